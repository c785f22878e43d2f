package lint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// twoServices: web is privileged and not pinned by digest; cadvisor is
// privileged.
func twoServices(t *testing.T) string {
	return writeStack(t, map[string]string{"compose.yaml": "services:\n  web:\n" +
		strings.Replace(clean, "@"+digest, "", 1) + "    privileged: true\n  cadvisor:\n" + clean + "    privileged: true\n"})
}

func TestLintPolicySeverities(t *testing.T) {
	pol, err := ParsePolicy([]byte("rules:\n  image-not-digest: off\n  privileged: warning\n"), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fs := lintDir(t, twoServices(t), "", pol)
	if got := withRule(fs, RuleImageNotDigest); len(got) != 0 {
		t.Errorf("image-not-digest is off, got:\n%s", dump(got))
	}
	got := withRule(fs, RulePrivileged)
	if len(got) != 2 || got[0].Severity != SeverityWarning || got[1].Severity != SeverityWarning {
		t.Errorf("privileged should be 2 warnings, got:\n%s", dump(got))
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
  - rule: privileged
    stack: "sh*"
    service: cadvisor
    reason: "cadvisor reads cgroups"
`), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fs := lintDir(t, twoServices(t), "", pol)
	got := withRule(fs, RulePrivileged)
	if len(got) != 2 {
		t.Fatalf("want 2 privileged findings, got:\n%s", dump(fs))
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
		{"missing reason", "exceptions:\n  - rule: privileged\n    service: cadvisor\n", "policy.yaml:2: exceptions[0]: reason is required"},
		{"unknown rule", "rules:\n  no-such-rule: off\n", `policy.yaml:2: rules: unknown rule "no-such-rule"`},
		{"bad severity", "rules:\n  privileged: fatal\n", `policy.yaml:2: rules.privileged: "fatal" is not one of off, info, warning, error`},
		{"unknown key", "rules: {}\nexception: []\n", `policy.yaml:2: unknown key "exception"`},
		{"unknown exception key", "exceptions:\n  - rule: privileged\n    reason: x\n    host: a\n", `policy.yaml:4: exceptions[0]: unknown key "host"`},
		{"exception rule", "exceptions:\n  - rule: load\n    reason: x\n", `policy.yaml:2: exceptions[0]: rule "load" is not a rule id`},
		{"bad pattern", "exceptions:\n  - rule: privileged\n    stack: \"[\"\n    reason: x\n", `exceptions[0].stack: bad pattern "["`},
		{"bad yaml", "rules: [\n", "policy.yaml: yaml:"},
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
	if err := os.WriteFile(file, []byte("exceptions:\n  - rule: privileged\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPolicy(repo); err == nil || !strings.Contains(err.Error(), file+":2:") {
		t.Fatalf("LoadPolicy error should name the file and line: %v", err)
	}
}
