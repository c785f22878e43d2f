package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose/lint"
)

// lintClean passes every rule but image-not-digest (an info).
const lintClean = `    image: example/web:1.4
    restart: unless-stopped
    mem_limit: 64m
    logging:
      driver: json-file
      options:
        max-size: 10m
`

const lintCanary = "canary-5be1d0c3"

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func runLint(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"lint"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestLintExitCodes(t *testing.T) {
	good := "services:\n  web:\n" + lintClean
	warn := "services:\n  web:\n" + strings.Replace(lintClean, "    mem_limit: 64m\n", "", 1)
	bad := "services:\n  web:\n" + strings.Replace(lintClean, "example/web:1.4", "nginx:latest", 1)
	repo := writeTree(t, map[string]string{
		"ok/stacks/shop/compose.yaml":      good,
		"ok/stacks/status/compose.yaml":    warn,
		"ok/stacks/notes/README.md":        "not a stack\n",
		"err/stacks/shop/compose.yaml":     good,
		"err/stacks/web/compose.yaml":      bad,
		"broken/stacks/a/compose.yaml":     bad,
		"broken/stacks/b/compose.yaml":     "services:\n  web:\n    image: x/y:${TAG:?set TAG}\n",
		"broken/stacks/c/compose.yaml":     good,
		"env/stacks/shop/compose.yaml":     good,
		"env/stacks/shop/compose.prod.yml": "services:\n  web:\n    image: nginx\n",
		"empty/stacks/README.md":           "",
	})
	at := func(p string) string { return filepath.Join(repo, p) }
	t.Setenv("TAG", "1.0") // lint must not read the process environment
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"warnings only", []string{at("ok")}, 0, []string{"stack shop (stacks/shop): 0 errors, 0 warnings, 1 info", "stacks/status/compose.yaml:2: warning [no-memory-limit]", "2 stacks: 0 errors, 1 warning, 2 info"}, ""},
		{"errors", []string{at("err")}, 1, []string{`stacks/web/compose.yaml:3: error [floating-tag] service "web": image nginx:latest uses a floating tag; pin a version`}, ""},
		{"stack folder", []string{at("err/stacks/web")}, 1, []string{"compose.yaml:3: error [floating-tag]", "1 stack: 1 error"}, ""},
		{"one stack does not load", []string{at("broken")}, 2, []string{"stacks/a/compose.yaml:3: error [floating-tag]", "stack b (stacks/b): does not load", "stacks/b/compose.yaml: error [load]", "TAG", "stack c (stacks/c): 0 errors"}, "1 stack does not load: b"},
		{"overlay", []string{"--env", "prod", at("env")}, 1, []string{"stacks/shop/compose.prod.yml:3: error [floating-tag]", "1 stack for prod: 1 error"}, ""},
		{"other --path", []string{"--path", "elsewhere", at("ok")}, 2, nil, "no compose file"},
		{"no stacks", []string{at("empty")}, 2, nil, "no compose file"},
		{"no DIR", nil, 2, nil, "berth lint DIR"},
		{"bad format", []string{"--format", "xml", at("ok")}, 2, nil, `--format: "xml"`},
		{"rules", []string{"--rules"}, 0, []string{"floating-tag", "secret-literal", "no-memory-limit       warning", "engine-socket         error", "engine-socket (formerly docker-socket): whoever"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runLint(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout does not contain %q:\n%s", s, out)
				}
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tc.stderr, errOut)
			}
		})
	}
}

func TestLintFormats(t *testing.T) {
	repo := writeTree(t, map[string]string{
		"stacks/web/compose.yaml": "services:\n  web:\n" + strings.Replace(lintClean, "example/web:1.4", "nginx:latest", 1),
	})
	code, out, _ := runLint(t, "--format", "json", repo)
	var fs []lint.Finding
	if err := json.Unmarshal([]byte(out), &fs); err != nil || code != 1 {
		t.Fatalf("exit %d, json %v:\n%s", code, err, out)
	}
	if len(fs) != 1 || fs[0].Rule != "floating-tag" || fs[0].File != "stacks/web/compose.yaml" || fs[0].Line != 3 || fs[0].Stack != "web" || fs[0].Service != "web" {
		t.Errorf("json findings: %+v", fs)
	}
	code, out, _ = runLint(t, "--format", "github", repo)
	want := "::error file=stacks/web/compose.yaml,line=3,title=floating-tag::service \"web\": image nginx:latest uses a floating tag; pin a version\n"
	if code != 1 || out != want {
		t.Errorf("exit %d, github:\n%s\nwant:\n%s", code, out, want)
	}
	clean := writeTree(t, map[string]string{"stacks/web/compose.yaml": "services:\n  web:\n" + lintClean})
	if code, out, _ = runLint(t, "--format", "json", "--policy", writePolicy(t, "exceptions:\n  - rule: image-not-digest\n    reason: tags are enough here\n"), clean); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("exit %d, want an empty array: %s", code, out)
	}
}

func writePolicy(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLintPolicy(t *testing.T) {
	noLimit := "services:\n  cadvisor:\n" + strings.Replace(lintClean, "    mem_limit: 64m\n", "", 1)
	repo := writeTree(t, map[string]string{
		".git/HEAD":                      "ref: refs/heads/main\n",
		".berth/policy.yaml":             "exceptions:\n  - rule: no-memory-limit\n    stack: monitoring\n    service: cadvisor\n    reason: \"cadvisor is capped by its cgroup\"\n",
		"stacks/monitoring/compose.yaml": noLimit,
	})
	stack := filepath.Join(repo, "stacks", "monitoring")
	for _, dir := range []string{repo, stack} { // the policy is found from the stack folder too
		code, out, errOut := runLint(t, dir)
		if code != 0 || strings.Contains(out, "no-memory-limit") || !strings.Contains(out, "1 excepted") {
			t.Errorf("%s: exit %d, want 0 with the finding excepted:\n%s%s", dir, code, out, errOut)
		}
	}
	code, out, _ := runLint(t, "--show-exceptions", stack)
	if code != 0 || !strings.Contains(out, `stacks/monitoring/compose.yaml:2: warning [no-memory-limit] service "cadvisor": no memory limit; set deploy.resources.limits.memory or mem_limit (excepted: cadvisor is capped by its cgroup)`) {
		t.Errorf("exit %d, --show-exceptions:\n%s", code, out)
	}
	bad := writePolicy(t, "exceptions:\n  - rule: no-memory-limit\n    service: cadvisor\n")
	code, _, errOut := runLint(t, "--policy", bad, repo)
	if code != 2 || !strings.Contains(errOut, bad+":2: exceptions[0]: reason is required") {
		t.Errorf("exit %d, want 2 naming the file and line:\n%s", code, errOut)
	}
}

// TestLintRepoPolicyCannotLiftErrors: the repository's policy, which a pull
// request can change, may not turn off or except an error, nor except a
// host policy refusal; the refusal names the file and line.
func TestLintRepoPolicyCannotLiftErrors(t *testing.T) {
	priv := "services:\n  cadvisor:\n" + lintClean + "    privileged: true\n"
	for _, tc := range []struct{ name, policy, want string }{
		{"except privileged", "exceptions:\n  - rule: privileged\n    service: cadvisor\n    reason: reads cgroups\n", ".berth/policy.yaml:2: exceptions[0]: privileged is an error rule"},
		{"except by a former id", "exceptions:\n  - rule: docker-socket\n    reason: x\n", ".berth/policy.yaml:2: exceptions[0]: engine-socket is an error rule"},
		{"turn off a host rule", "rules:\n  host-pid: off\n", ".berth/policy.yaml:2: rules.host-pid: off is below the rule's default (error)"},
		{"lower a checklist error", "rules:\n  floating-tag: warning\n", ".berth/policy.yaml:2: rules.floating-tag: warning is below the rule's default (error)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := writeTree(t, map[string]string{
				".git/HEAD":                      "ref: refs/heads/main\n",
				".berth/policy.yaml":             tc.policy,
				"stacks/monitoring/compose.yaml": priv,
			})
			t.Chdir(repo)
			code, out, errOut := runLint(t, ".")
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want 2 with %q:\n%s%s", code, tc.want, out, errOut)
			}
		})
	}
}

// TestLintHostPolicy: lint refuses what the host policy refuses (baseline
// by default), and --host-policy judges with a production host's berth.yaml:
// its profile per stack, its granted paths and its exceptions.
func TestLintHostPolicy(t *testing.T) {
	svc := func(name, extra string) string { return "  " + name + ":\n" + lintClean + extra }
	repo := writeTree(t, map[string]string{
		"stacks/monitoring/compose.yaml": "services:\n" +
			svc("node-exporter", "    pid: host\n    volumes: [\"/proc/1/root:/host:ro\"]\n") +
			svc("cadvisor", "    privileged: true\n    devices: [\"/dev/kmsg:/dev/kmsg\"]\n"),
		"stacks/shop/compose.yaml": "services:\n" +
			svc("web", "    network_mode: host\n    cap_add: [ALL]\n    security_opt: [\"apparmor:unconfined\", \"seccomp:unconfined\"]\n") +
			svc("worker", "    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n      - type: bind\n        source: /run/containerd/containerd.sock\n        target: /c.sock\n      - /root:/r:ro\n      - /var/lib/docker:/d:ro\n      - /srv/media:/media:ro\n"),
	})
	code, out, _ := runLint(t, "--format", "json", repo)
	var fs []lint.Finding
	if err := json.Unmarshal([]byte(out), &fs); err != nil || code != 1 {
		t.Fatalf("exit %d, json %v:\n%s", code, err, out)
	}
	var got []string
	for _, f := range fs {
		if f.Severity == lint.SeverityError {
			got = append(got, f.Stack+" "+f.Service+" "+f.Field+" "+f.Rule)
		}
	}
	want := []string{
		"monitoring cadvisor devices[0] devices",
		"monitoring cadvisor privileged privileged",
		"monitoring node-exporter pid host-pid",
		"monitoring node-exporter volumes[0].source host-system-mount",
		"shop web cap_add[0] capabilities",
		"shop web network_mode host-network",
		"shop web security_opt[0] unconfined-profile",
		"shop web security_opt[1] unconfined-profile",
		"shop worker volumes[0].source engine-socket",
		"shop worker volumes[1].source engine-socket",
		"shop worker volumes[2].source host-system-mount",
		"shop worker volumes[3].source host-system-mount",
		"shop worker volumes[4].source host-path",
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	host := filepath.Join(t.TempDir(), "berth.yaml")
	if err := os.WriteFile(host, []byte(`repo: https://git.example.com/infra.git
policy:
  host_paths:
    - {path: /srv/media, stacks: ["sho*"], read_only: true}
  stacks:
    monitoring: {profile: privileged}
  exceptions:
    - {rule: host-network, stack: shop, service: web, reason: "serves on the host's ports"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runLint(t, "--host-policy", host, "--show-exceptions", repo)
	for _, s := range []string{
		"stack monitoring (stacks/monitoring): 0 errors",
		`stacks/shop/compose.yaml:10: error [host-network] service "web": network_mode: shares the host's namespace (host policy baseline) (excepted: host policy: serves on the host's ports)`,
		`stacks/shop/compose.yaml:11: error [capabilities] service "web": cap_add[0]: adds capability ALL`,
		`error [engine-socket] service "worker": volumes[0].source: bind-mounts /var/run/docker.sock`,
		"2 stacks: 7 errors,",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("--host-policy output lacks %q:\n%s", s, out)
		}
	}
	if code != 1 || strings.Contains(out, "volumes[4]") {
		t.Errorf("exit %d, want 1 with /srv/media granted:\n%s", code, out)
	}

	// A grant does not hand out berth's own files inside it.
	if err := os.WriteFile(host, []byte("git:\n  token_file: /srv/media/.berth-token\npolicy:\n  host_paths:\n    - {path: /srv/media, stacks: [\"*\"], read_only: true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ = runLint(t, "--host-policy", host, repo); code != 1 || !strings.Contains(out, `error [host-system-mount] service "worker": volumes[4].source: bind-mounts /srv/media: berth's own /srv/media/.berth-token is never granted`) {
		t.Errorf("exit %d, want berth's token file refused inside the grant:\n%s", code, out)
	}

	if err := os.WriteFile(host, []byte("policy:\n  profile: lax\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runLint(t, "--host-policy", host, repo); code != 2 || !strings.Contains(errOut, `policy.profile: "lax" is not one of`) {
		t.Errorf("exit %d, want 2 naming the bad key:\n%s", code, errOut)
	}
}

func TestLintNeverPrintsSecrets(t *testing.T) {
	repo := writeTree(t, map[string]string{
		"stacks/shop/compose.yaml": "services:\n  web:\n" + lintClean +
			"    env_file: app.env\n    environment:\n      DB_PASSWORD: " + lintCanary + "\n      - bad: list\n",
		"stacks/app/compose.yaml": "services:\n  web:\n" + lintClean +
			"    env_file: app.env\n    environment:\n      DB_PASSWORD: " + lintCanary + "\n      DATABASE_URL: postgres://u:" + lintCanary + "@db/x\n    labels:\n      api-token: " + lintCanary + "\n",
		"stacks/app/app.env": "API_KEY=" + lintCanary + "\n",
		"stacks/app/.env":    "ADMIN_PASSWORD='" + lintCanary + "'\n",
	})
	for _, format := range []string{"text", "json", "github"} {
		code, out, errOut := runLint(t, "--format", format, "--show-exceptions", repo)
		if code != 2 { // stacks/shop does not load
			t.Errorf("%s: exit %d, want 2", format, code)
		}
		if n := strings.Count(out, "secret-literal"); n != 5 {
			t.Errorf("%s: want 5 secret findings, got %d:\n%s", format, n, out)
		}
		if strings.Contains(out+errOut, lintCanary) {
			t.Errorf("%s: the secret value is printed:\n%s\n%s", format, out, errOut)
		}
	}
}

// A folder named with an escape is reported, quoted, beside the others.
func TestLintBadStackName(t *testing.T) {
	repo := writeTree(t, map[string]string{
		"stacks/good/compose.yaml":       "services:\n  web:\n    image: busybox:1.36\n",
		"stacks/\x1b[2Jred/compose.yaml": "services:\n  web:\n    image: busybox:1.36\n",
	})
	code, out, errOut := runLint(t, repo)
	if code != 2 { // a stack that cannot be loaded
		t.Errorf("exit %d, want 2: %s", code, errOut)
	}
	if !strings.Contains(out, `stack folder "\x1b[2Jred": a stack's name starts with a letter or digit`) || !strings.Contains(out, "good") {
		t.Errorf("lint output does not report the bad folder quoted beside good:\n%s", out)
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("lint output carries a raw escape:\n%q", out)
	}
}
