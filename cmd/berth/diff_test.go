package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitRepo is a real repository made with the git CLI, isolated from the
// user's and the system's git configuration.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	r := &gitRepo{t: t, dir: filepath.Join(t.TempDir(), "infra")}
	r.git("init", "-q", "-b", "main", r.dir)
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	base := []string{"-c", "user.name=Berth Test", "-c", "user.email=test@berth.invalid", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}
	if args[0] != "init" {
		base = append(base, "-C", r.dir)
	}
	out, err := exec.Command("git", append(base, args...)...).CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes the files (an empty content removes the file) and commits
// them, returning the hash.
func (r *gitRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, name)
		if content == "" {
			if err := os.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

const (
	shopV1 = `services:
  api:
    image: example/api:${API_TAG:-1.0}
    env_file: app.env
    environment:
      DB_PASSWORD: canary-inline-old
  db:
    image: postgres:16.2
`
	statusV1 = "services:\n  kuma:\n    image: louislam/uptime-kuma:1.23\n"
)

// twoCommits makes the base commit (tagged v1) and a head commit on main
// that changes the api's image and an env_file value.
func twoCommits(t *testing.T) (r *gitRepo, base, head string) {
	r = newGitRepo(t)
	base = r.commit("shop and status", map[string]string{
		"stacks/shop/compose.yaml":   shopV1,
		"stacks/shop/app.env":        "API_TOKEN=canary-file-old\n",
		"stacks/status/compose.yaml": statusV1,
		"stacks/shared/README.md":    "not a stack\n",
		"README.md":                  "infra\n",
	})
	r.git("tag", "v1")
	head = r.commit("api 1.1, new token", map[string]string{
		"stacks/shop/compose.yaml": strings.Replace(shopV1, "1.0", "1.1", 1),
		"stacks/shop/app.env":      "API_TOKEN=canary-file-new\n",
	})
	return r, base, head
}

func runDiff(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"diff"}, args...), &out, &errb)
	if s := out.String() + errb.String(); strings.Contains(s, "canary") {
		t.Errorf("diff printed an environment value:\n%s", s)
	}
	return code, out.String(), errb.String()
}

func TestDiffBetweenCommits(t *testing.T) {
	r, base, head := twoCommits(t)
	// The process environment must not take part: API_TAG would change the image.
	t.Setenv("API_TAG", "from-the-ci-runner")
	code, out, errOut := runDiff(t, "--repo", r.dir, "v1", "main")
	want := "base " + base[:12] + " → head " + head[:12] + "\n" +
		"stack shop (1 service changed)\n" +
		"  ~ api  image example/api:1.0 → example/api:1.1; env ~API_TOKEN; recreate\n" +
		"stack status: unchanged\n"
	if code != 1 || out != want {
		t.Errorf("exit %d, want 1\n--- got\n%s--- want\n%s--- stderr\n%s", code, out, want, errOut)
	}
}

func TestDiffJSON(t *testing.T) {
	r, base, head := twoCommits(t)
	code, out, errOut := runDiff(t, "--repo", r.dir, "--json", base, "HEAD")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	var rep struct {
		Base, Head struct{ Hash string }
		Stacks     []struct {
			Stack, Status string
			Services      []struct {
				Name        string
				Environment struct{ Changed []string }
				Recreate    bool
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Base.Hash != base || rep.Head.Hash != head || len(rep.Stacks) != 2 {
		t.Fatalf("unexpected report:\n%s", out)
	}
	shop := rep.Stacks[0]
	if shop.Stack != "shop" || shop.Status != "changed" || len(shop.Services) != 1 ||
		shop.Services[0].Name != "api" || !shop.Services[0].Recreate ||
		strings.Join(shop.Services[0].Environment.Changed, ",") != "API_TOKEN" {
		t.Errorf("unexpected shop stack:\n%s", out)
	}
	if rep.Stacks[1].Stack != "status" || rep.Stacks[1].Status != "unchanged" {
		t.Errorf("unexpected status stack:\n%s", out)
	}
}

func TestDiffExitCodes(t *testing.T) {
	r, base, _ := twoCommits(t)
	cases := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{args: []string{"--repo", r.dir, "HEAD", "main"}, code: 0, stdout: "stack shop: unchanged"},
		{args: []string{"--repo", r.dir, base[:12], "v1"}, code: 0, stdout: "stack status: unchanged"},
		{args: []string{"--repo", r.dir, "no-such-rev", "HEAD"}, code: 2, stderr: `resolve BASE "no-such-rev"`},
		{args: []string{"--repo", r.dir, "v1", "v9"}, code: 2, stderr: `resolve HEAD "v9"`},
		{args: []string{"--repo", t.TempDir(), "v1", "HEAD"}, code: 2, stderr: "open repository"},
		{args: []string{"--repo", r.dir, "--path", "../elsewhere", "v1", "HEAD"}, code: 2, stderr: "--path"},
		{args: []string{"--repo", r.dir, "--path", "apps", "v1", "HEAD"}, code: 2, stderr: "no stack (a folder with a compose file) under apps"},
		{args: []string{"--repo", r.dir, "v1"}, code: 2, stderr: "accepts 2 arg(s)"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args[2:], " "), func(t *testing.T) {
			code, out, errOut := runDiff(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("exit %d, want %d\nstdout (want %q): %s\nstderr (want %q): %s", code, tc.code, tc.stdout, out, tc.stderr, errOut)
			}
		})
	}
}

// A stack that does not load at head fails the diff with exit 2 and names
// the stack, the file and the field, while the others are still shown.
func TestDiffBrokenStackAtHead(t *testing.T) {
	r, _, _ := twoCommits(t)
	r.commit("break status, add blog, remove shop", map[string]string{
		"stacks/status/compose.yaml": statusV1 + "    colour: red\n",
		"stacks/blog/compose.yaml":   "services:\n  ghost:\n    image: ghost:5.80\n  db:\n    image: mysql:8.4\n",
		"stacks/shop/compose.yaml":   "",
		"stacks/shop/app.env":        "",
	})
	code, out, errOut := runDiff(t, "--repo", r.dir, "v1", "HEAD")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	for _, want := range []string{
		"stack blog: added (2 services)\n",
		"stack shop: removed (2 services)\n",
		"stack status: does not load: at ",
		"stacks/status (compose.yaml)",
		"colour",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "berth-diff-") {
		t.Errorf("stdout shows the temporary folder:\n%s", out)
	}
	if !strings.Contains(errOut, "do not load") || !strings.Contains(errOut, "status") {
		t.Errorf("stderr does not name the broken stack: %s", errOut)
	}
}

// Files outside every stack folder change no stack.
func TestDiffIgnoresOtherPaths(t *testing.T) {
	r, _, _ := twoCommits(t)
	r.git("tag", "v2")
	r.commit("docs", map[string]string{"README.md": "infra, documented\n", "stacks/shared/README.md": "still not a stack\n"})
	code, out, errOut := runDiff(t, "--repo", r.dir, "v2", "HEAD")
	if code != 0 || !strings.HasSuffix(out, "\nstack shop: unchanged\nstack status: unchanged\n") {
		t.Errorf("exit %d, want 0\n%s%s", code, out, errOut)
	}
}

// A stack broken at base and fixed at head is shown as changed, not
// compared; --env selects each commit's overlay.
func TestDiffBaseBrokenAndEnv(t *testing.T) {
	r, _, _ := twoCommits(t)
	r.commit("break status, add a production overlay", map[string]string{
		"stacks/status/compose.yaml":          statusV1 + "    colour: red\n",
		"stacks/shop/compose.production.yaml": "services:\n  db:\n    image: postgres:16.3\n",
	})
	r.git("tag", "v2")
	r.commit("fix status", map[string]string{
		"stacks/status/compose.yaml":          statusV1,
		"stacks/shop/compose.production.yaml": "services:\n  db:\n    image: postgres:16.4\n",
	})
	code, out, errOut := runDiff(t, "--repo", r.dir, "--env", "production", "v2", "HEAD")
	for _, want := range []string{
		"  ~ db  image postgres:16.3 → postgres:16.4; recreate\n",
		"stack status: changed, not compared: base does not load: at ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1: %s", code, errOut)
	}
}

// A folder named with a newline is reported, quoted, and the other stacks
// are still compared.
func TestDiffBadStackName(t *testing.T) {
	r, _, _ := twoCommits(t)
	r.commit("a folder named with a newline", map[string]string{
		"stacks/bad\nname/compose.yaml": statusV1,
	})
	code, out, errOut := runDiff(t, "--repo", r.dir, "v1", "HEAD")
	if code != 2 {
		t.Errorf("exit %d, want 2: %s", code, errOut)
	}
	for _, want := range []string{
		`stack folder "bad\nname": a stack's name starts with a letter or digit`,
		"stack shop (1 service changed)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(out, "bad\nname") {
		t.Errorf("stdout shows the raw name:\n%s", out)
	}
}
