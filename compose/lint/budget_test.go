package lint

import (
	"fmt"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose/budget"
)

func TestPolicyOverBudgetIsRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("x0: &x0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "x%d: &x%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*x%d, ", i-1), 10), ", "))
	}
	b.WriteString("rules:\n  image-not-digest: warning\n")
	_, err := ParsePolicy([]byte(b.String()), ".berth/policy.yaml")
	if !budget.IsError(err) || !strings.Contains(err.Error(), ".berth/policy.yaml") {
		t.Fatalf("ParsePolicy of an alias bomb: %v", err)
	}
}
