package policy

import (
	"testing"

	"github.com/berth-gitops/berth/compose/lint"
)

// TestReviewJudgesChecklistAndHost: one review holds a stack to the
// checklist and to the host policy, keeps the two apart, and marks the
// host's exceptions on both.
func TestReviewJudgesChecklistAndHost(t *testing.T) {
	dir := stackDir(t, "services:\n  web:\n    image: nginx:latest\n    privileged: true\n")
	p, target := loadProject(t, dir)
	s := Settings{Exceptions: []Exception{{Rule: lint.RuleFloatingTag, Stack: "shop", Service: "web", Reason: "a demo host"}}}
	r := s.Review(p, lint.Policy{}, target)
	if got := withRule(r.Host, RulePrivileged); len(got) != 1 || got[0].Excepted != "" {
		t.Fatalf("host findings %v, want privileged refused", r.Host)
	}
	if len(withRule(r.Host, lint.RuleFloatingTag)) != 0 || len(withRule(r.Lint, RulePrivileged)) != 0 {
		t.Fatalf("the checklist and the host policy are mixed: lint %v, host %v", r.Lint, r.Host)
	}
	floating := withRule(r.Lint, lint.RuleFloatingTag)
	if len(floating) != 1 || floating[0].Excepted != "host policy: a demo host" {
		t.Fatalf("checklist findings %v, want floating-tag excepted by the host", r.Lint)
	}
	all := r.All()
	if len(all) != len(r.Lint)+len(r.Host) {
		t.Fatalf("All has %d findings, want %d", len(all), len(r.Lint)+len(r.Host))
	}
	sorted := lint.Sort(append([]lint.Finding(nil), all...))
	for i := range all {
		if all[i].Rule != sorted[i].Rule || all[i].Line != sorted[i].Line {
			t.Fatalf("All is not sorted: %v", all)
		}
	}
}
