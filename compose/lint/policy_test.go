package lint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// twoServices: web has no memory limit and is not pinned by digest;
// cadvisor has no memory limit.
func twoServices(t *testing.T) string {
	noLimit := strings.Replace(clean, "    mem_limit: 64m\n", "", 1)
	return writeStack(t, map[string]string{"compose.yaml": "services:\n  web:\n" +
		strings.Replace(noLimit, "@"+digest, "", 1) + "  cadvisor:\n" + noLimit})
}

func TestLintPolicySeverities(t *testing.T) {
	pol, err := ParsePolicy([]byte("rules:\n  image-not-digest: warning\n  no-memory-limit: warning\n"), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fs := lintDir(t, twoServices(t), "", pol)
	if got := withRule(fs, RuleImageNotDigest); len(got) != 1 || got[0].Severity != SeverityWarning {
		t.Errorf("image-not-digest is raised to a warning, got:\n%s", dump(got))
	}
	got := withRule(fs, RuleNoMemoryLimit)
	if len(got) != 2 || got[0].Severity != SeverityWarning || got[1].Severity != SeverityWarning {
		t.Errorf("no-memory-limit should be 2 warnings, got:\n%s", dump(got))
	}
	if HasErrors(fs) {
		t.Errorf("no errors expected:\n%s", dump(fs))
	}

	pol, err = ParsePolicy([]byte("rules:\n  image-not-digest: error\n"), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got = withRule(lintDir(t, twoServices(t), "", pol), RuleImageNotDigest)
	if len(got) != 1 || got[0].Severity != SeverityError {
		t.Errorf("image-not-digest should be an error, got:\n%s", dump(got))
	}
}

func TestLintPolicyExceptions(t *testing.T) {
	pol, err := ParsePolicy([]byte(`exceptions:
  - rule: no-memory-limit
    stack: "sh*"
    service: cadvisor
    reason: "cadvisor reads cgroups"
`), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol.Severities = map[string]Severity{RuleNoMemoryLimit: SeverityError}
	fs := lintDir(t, twoServices(t), "", pol)
	got := withRule(fs, RuleNoMemoryLimit)
	if len(got) != 2 {
		t.Fatalf("want 2 no-memory-limit findings, got:\n%s", dump(fs))
	}
	for _, f := range got {
		want := map[string]string{"cadvisor": "cadvisor reads cgroups", "web": ""}[f.Service]
		if f.Excepted != want {
			t.Errorf("%s: excepted %q, want %q", f.Service, f.Excepted, want)
		}
	}
	if s := Summarize(fs); s.Errors != 1 || s.Excepted != 1 {
		t.Errorf("summary %+v", s)
	}
	if !strings.Contains(got[0].String()+got[1].String(), "(excepted: cadvisor reads cgroups)") {
		t.Errorf("excepted finding does not show its reason:\n%s", dump(got))
	}
	if len(Active(fs)) != len(fs)-1 {
		t.Errorf("Active should drop the excepted finding")
	}

	// Another stack name does not match the pattern.
	pol.Exceptions[0].Stack = "monitoring"
	for _, f := range lintDir(t, twoServices(t), "", pol) {
		if f.Excepted != "" {
			t.Errorf("excepted in another stack: %s", f)
		}
	}
}

func TestLintPolicyErrors(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"missing reason", "exceptions:\n  - rule: no-healthcheck\n    service: cadvisor\n", "policy.yaml:2: exceptions[0]: reason is required"},
		{"unknown rule", "rules:\n  no-such-rule: off\n", `policy.yaml:2: rules: unknown rule "no-such-rule"`},
		{"bad severity", "rules:\n  build-in-stack: fatal\n", `policy.yaml:2: rules.build-in-stack: "fatal" is not one of off, info, warning, error`},
		{"unknown key", "rules: {}\nexception: []\n", `policy.yaml:2: unknown key "exception"`},
		{"unknown exception key", "exceptions:\n  - rule: no-healthcheck\n    reason: x\n    host: a\n", `policy.yaml:4: exceptions[0]: unknown key "host"`},
		{"exception rule", "exceptions:\n  - rule: load\n    reason: x\n", `policy.yaml:2: exceptions[0]: rule "load" is not a rule id`},
		{"bad pattern", "exceptions:\n  - rule: no-healthcheck\n    stack: \"[\"\n    reason: x\n", `exceptions[0].stack: bad pattern "["`},
		{"bad yaml", "rules: [\n", "policy.yaml: yaml:"},
		// The repository may only make rules stricter.
		{"error rule off", "rules:\n  secret-literal: off\n", "policy.yaml:2: rules.secret-literal: off is below the rule's default (error); the repository's policy may only make rules stricter"},
		{"error lowered", "rules:\n  floating-tag: warning\n", "policy.yaml:2: rules.floating-tag: warning is below the rule's default (error)"},
		{"warning off", "rules:\n  no-memory-limit: off\n", "policy.yaml:2: rules.no-memory-limit: off is below the rule's default (warning)"},
		{"info off", "rules:\n  image-not-digest: off\n", "policy.yaml:2: rules.image-not-digest: off is below the rule's default (info)"},
		{"error excepted", "exceptions:\n  - rule: secret-literal\n    service: worker\n    reason: a test value\n", "policy.yaml:2: exceptions[0]: secret-literal is an error rule: the repository's policy may not except it; the host accepts it in berth.yaml (policy.exceptions)"},
		{"raised then excepted", "rules:\n  no-memory-limit: error\nexceptions:\n  - rule: no-memory-limit\n    reason: x\n", "policy.yaml:4: exceptions[0]: no-memory-limit is an error rule"},
		{"host rule without the host rules", "exceptions:\n  - rule: privileged\n    reason: x\n", `policy.yaml:2: exceptions[0]: rule "privileged" is not a rule id`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tc.body), "policy.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLintLoadAndFindPolicy(t *testing.T) {
	repo := t.TempDir()
	pol, err := LoadPolicy(repo)
	if err != nil || pol.File != "" || len(pol.Severities)+len(pol.Exceptions) != 0 {
		t.Fatalf("a missing policy is the defaults: %+v, %v", pol, err)
	}
	stack := filepath.Join(repo, "stacks", "shop")
	if err := os.MkdirAll(stack, 0o755); err != nil {
		t.Fatal(err)
	}
	if f, err := FindPolicy(stack); err != nil || f != "" {
		t.Fatalf("FindPolicy with no policy: %q, %v", f, err)
	}
	file := filepath.Join(repo, ".berth", "policy.yaml")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("rules:\n  no-memory-limit: error\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := FindPolicy(stack); err != nil || f != file {
		t.Fatalf("FindPolicy: %q, %v; want %s", f, err, file)
	}
	pol, err = LoadPolicy(repo)
	if err != nil || pol.Severities[RuleNoMemoryLimit] != SeverityError {
		t.Fatalf("LoadPolicy: %+v, %v", pol, err)
	}
	// The search stops at the Git work tree's root.
	if err := os.Mkdir(filepath.Join(repo, "stacks", ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if f, err := FindPolicy(stack); err != nil || f != "" {
		t.Fatalf("FindPolicy crossed .git: %q, %v", f, err)
	}
	if err := os.WriteFile(file, []byte("exceptions:\n  - rule: no-healthcheck\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPolicy(repo); err == nil || !strings.Contains(err.Error(), file+":2:") {
		t.Fatalf("LoadPolicy error should name the file and line: %v", err)
	}
}

// TestLintPolicyExtraRules: rules checked elsewhere (the host policy's) can
// be named, by their former ids too, and are held to the same limits.
func TestLintPolicyExtraRules(t *testing.T) {
	extra := []Rule{{ID: "engine-socket", Severity: SeverityError, Summary: "s", Why: "w", Aliases: []string{"docker-socket"}}}
	pol, err := ParsePolicyRules([]byte("rules:\n  docker-socket: error\n"), "policy.yaml", extra)
	if err != nil || pol.Severities["engine-socket"] != SeverityError {
		t.Fatalf("a former id names its rule: %+v, %v", pol, err)
	}
	_, err = ParsePolicyRules([]byte("exceptions:\n  - rule: docker-socket\n    stack: monitoring\n    reason: x\n"), "policy.yaml", extra)
	if err == nil || !strings.Contains(err.Error(), "policy.yaml:2: exceptions[0]: engine-socket is an error rule") {
		t.Fatalf("an exception of a host rule should be refused: %v", err)
	}
}
