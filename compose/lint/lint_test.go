package lint

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose/load"
	"github.com/compose-spec/compose-go/v2/types"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// clean is a service that passes every rule; cases add to it or replace
// its lines.
const clean = `    image: example/web:1.4@` + digest + `
    restart: unless-stopped
    mem_limit: 64m
    logging:
      driver: json-file
      options:
        max-size: 10m
    healthcheck:
      test: ["CMD", "true"]
`

// writeStack writes files into a new stack folder named shop.
func writeStack(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shop")
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// lintDir loads the stack as berth lint does and lints it.
func lintDir(t *testing.T, dir, env string, pol Policy) []Finding {
	t.Helper()
	p, src := loadDir(t, dir, env)
	return Lint(p, src, pol)
}

func loadDir(t *testing.T, dir, env string) (*types.Project, Sources) {
	t.Helper()
	p, err := load.Load(context.Background(), load.LoadOptions{Dir: dir, Env: env, Profiles: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	src, err := ReadSources(dir, env, "stacks/shop")
	if err != nil {
		t.Fatal(err)
	}
	return p, src
}

func withRule(fs []Finding, rule string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func TestLintCleanServiceHasNoFindings(t *testing.T) {
	dir := writeStack(t, map[string]string{"compose.yaml": "services:\n  web:\n" + clean + "    ports: [\"8080:80\"]\n"})
	if fs := lintDir(t, dir, "", Policy{}); len(fs) != 0 {
		t.Fatalf("want no findings, got:\n%s", dump(fs))
	}
}

func TestLintRules(t *testing.T) {
	// replace swaps one line of clean for another ("" deletes it).
	replace := func(old, new string) string {
		if !strings.Contains(clean, old) {
			panic("clean has no " + old)
		}
		return "services:\n  web:\n" + strings.Replace(clean, old, new, 1)
	}
	add := func(extra string) string { return "services:\n  web:\n" + clean + extra }
	noHealth := replace("    healthcheck:\n      test: [\"CMD\", \"true\"]\n", "")
	cases := []struct {
		name  string
		rule  string
		files map[string]string
		want  bool
	}{
		{"latest", RuleFloatingTag, map[string]string{"compose.yaml": replace("example/web:1.4@"+digest, "nginx:latest")}, true},
		{"no tag", RuleFloatingTag, map[string]string{"compose.yaml": replace("example/web:1.4@"+digest, "nginx")}, true},
		{"registry port no tag", RuleFloatingTag, map[string]string{"compose.yaml": replace("example/web:1.4@"+digest, "registry:5000/app")}, true},
		{"version tag", RuleFloatingTag, map[string]string{"compose.yaml": replace("example/web:1.4@"+digest, "registry:5000/app:1.2")}, false},
		{"digest only", RuleFloatingTag, map[string]string{"compose.yaml": replace("example/web:1.4@"+digest, "nginx@"+digest)}, false},
		{"tag without digest", RuleImageNotDigest, map[string]string{"compose.yaml": replace("example/web:1.4@"+digest, "nginx:1.27")}, true},
		{"tag with digest", RuleImageNotDigest, map[string]string{"compose.yaml": "services:\n  web:\n" + clean}, false},

		{"ports without healthcheck", RuleNoHealthcheck, map[string]string{"compose.yaml": noHealth + "    ports: [\"8080:80\"]\n"}, true},
		{"depended on without healthcheck", RuleNoHealthcheck, map[string]string{"compose.yaml": noHealth + "  app:\n" + clean + "    depends_on: [web]\n"}, true},
		{"healthcheck disabled", RuleNoHealthcheck, map[string]string{"compose.yaml": replace("      test: [\"CMD\", \"true\"]\n", "      disable: true\n") + "    ports: [\"8080:80\"]\n"}, true},
		{"ports with healthcheck", RuleNoHealthcheck, map[string]string{"compose.yaml": add("    ports: [\"8080:80\"]\n")}, false},
		{"internal without healthcheck", RuleNoHealthcheck, map[string]string{"compose.yaml": noHealth}, false},

		{"no restart", RuleNoRestartPolicy, map[string]string{"compose.yaml": replace("    restart: unless-stopped\n", "")}, true},
		{"restart no", RuleNoRestartPolicy, map[string]string{"compose.yaml": replace("unless-stopped", `"no"`)}, false},
		{"deploy restart_policy", RuleNoRestartPolicy, map[string]string{"compose.yaml": replace("    restart: unless-stopped\n", "    deploy:\n      restart_policy:\n        condition: on-failure\n")}, false},

		{"no logging", RuleNoLogRotation, map[string]string{"compose.yaml": replace("    logging:\n      driver: json-file\n      options:\n        max-size: 10m\n", "")}, true},
		{"json-file without options", RuleNoLogRotation, map[string]string{"compose.yaml": replace("      options:\n        max-size: 10m\n", "")}, true},
		{"local without max-size", RuleNoLogRotation, map[string]string{"compose.yaml": replace("json-file\n      options:\n        max-size: 10m\n", "local\n      options:\n        max-file: \"3\"\n")}, true},
		{"json-file with max-size", RuleNoLogRotation, map[string]string{"compose.yaml": "services:\n  web:\n" + clean}, false},
		{"journald", RuleNoLogRotation, map[string]string{"compose.yaml": replace("json-file\n      options:\n        max-size: 10m\n", "journald\n")}, false},

		{"no memory limit", RuleNoMemoryLimit, map[string]string{"compose.yaml": replace("    mem_limit: 64m\n", "")}, true},
		{"cpu limit only", RuleNoMemoryLimit, map[string]string{"compose.yaml": replace("    mem_limit: 64m\n", "    deploy:\n      resources:\n        limits:\n          cpus: \"0.5\"\n")}, true},
		{"deploy memory limit", RuleNoMemoryLimit, map[string]string{"compose.yaml": replace("    mem_limit: 64m\n", "    deploy:\n      resources:\n        limits:\n          memory: 64m\n")}, false},
		{"mem_limit", RuleNoMemoryLimit, map[string]string{"compose.yaml": "services:\n  web:\n" + clean}, false},

		{"build", RuleBuild, map[string]string{"compose.yaml": add("    build: .\n")}, true},
		{"no build", RuleBuild, map[string]string{"compose.yaml": "services:\n  web:\n" + clean}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := lintDir(t, writeStack(t, tc.files), "", Policy{})
			got := withRule(fs, tc.rule)
			if tc.want && len(got) == 0 {
				t.Fatalf("want a %s finding, got:\n%s", tc.rule, dump(fs))
			}
			if !tc.want && len(got) > 0 {
				t.Fatalf("want no %s finding, got:\n%s", tc.rule, dump(got))
			}
			for _, f := range got {
				r, _ := ruleByID(tc.rule)
				if f.Severity != r.Severity || f.Stack != "shop" || f.Service == "" || f.File == "" || f.Line == 0 || !strings.HasPrefix(f.Message, "service ") {
					t.Errorf("incomplete finding: %+v", f)
				}
			}
		})
	}
}

func TestLintRulesAreDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] || r.Summary == "" || r.Why == "" || r.Severity.rank() > 2 {
			t.Errorf("rule %+v: duplicate or incomplete", r)
		}
		seen[r.ID] = true
	}
	if len(seen) != 8 {
		t.Errorf("want 8 rules, got %d", len(seen))
	}
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}
