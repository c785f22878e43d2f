package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// blogCompose is the stack beside the bomb: it must keep deploying.
const blogCompose = `services:
  web:
    image: berthtest/app:1.0
    restart: unless-stopped
    environment:
      REVISION: "%d"
`

// budgetBomb is levels of ten aliases of the level below: 10^levels nodes
// once expanded.
func budgetBomb(levels int) string {
	var b strings.Builder
	b.WriteString("x-l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "x-l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	return b.String()
}

// budgetCase is a commit of the shop stack that is over a budget.
type budgetCase struct {
	name  string
	files map[string]string // shop's files
	want  string            // in the stall's error
}

func budgetCases() []budgetCase {
	worker := func(extra string) string {
		return strings.Replace(shopCompose, "  worker:\n    image: berthtest/app:1.0\n", "  worker:\n    image: berthtest/app:1.0\n"+extra, 1)
	}
	graph := map[string]string{"compose.yaml": "include: [g1a.yaml, g1b.yaml]\n" + shopCompose}
	for i := 1; i <= 14; i++ {
		body := "services: {}\n"
		if i < 14 {
			body = fmt.Sprintf("include: [g%da.yaml, g%db.yaml]\n", i+1, i+1)
		}
		graph[fmt.Sprintf("g%da.yaml", i)], graph[fmt.Sprintf("g%db.yaml", i)] = body, body
	}
	chain := map[string]string{"compose.yaml": "include: [c1.yaml]\n" + shopCompose}
	for i := 1; i <= 300; i++ {
		body := "services: {}\n"
		if i < 300 {
			body = fmt.Sprintf("include: [c%d.yaml]\n", i+1)
		}
		chain[fmt.Sprintf("c%d.yaml", i)] = body
	}
	return []budgetCase{
		{"alias bomb", map[string]string{"compose.yaml": budgetBomb(10) + shopCompose},
			"compose.yaml is over the budget of 100000 expanded nodes"},
		{"exponential include graph", graph,
			"over the budget of 200 compose files read through include and extends"},
		{"include chain of 300", chain,
			"over the budget of 20 levels of include and extends"},
		{"env_file /dev/zero", map[string]string{"compose.yaml": worker("    env_file: [/dev/zero]\n")},
			`service "worker": env_file /dev/zero`},
		{"sops file with a bomb in its second document", map[string]string{
			"compose.yaml":   worker("    secrets: [data]\n") + "secrets:\n  data:\n    file: data.sops.yaml\n",
			"data.sops.yaml": "sops:\n  mac: x\n---\n" + budgetBomb(10)},
			"data.sops.yaml is over the budget of 100000 expanded nodes"},
	}
}

// TestBudgetBombsStallAlone: a commit whose stack is over a budget (an
// alias bomb, an include graph that grows exponentially, a chain of 300
// includes, env_file /dev/zero, a sops file whose second document is a
// bomb) stalls that stack within seconds, naming the budget, and leaves its
// containers as they were, while the other stack of the same commit
// deploys.
func TestBudgetBombsStallAlone(t *testing.T) {
	in := newInfra(t)
	shop, blog := in.project("shop"), in.project("blog")
	in.write("shop", "compose.yaml", shopCompose)
	in.write("blog", "compose.yaml", fmt.Sprintf(blogCompose, 0))
	good := in.commit("shop and blog")
	run := in.startBerth("")
	run.waitApplied(shop.project, good, 90*time.Second)
	run.waitApplied(blog.project, good, 90*time.Second)
	before := ids(shop.containers())

	for i, tc := range budgetCases() {
		t.Run(tc.name, func(t *testing.T) {
			for name, content := range tc.files {
				in.write("shop", name, content)
			}
			in.write("blog", "compose.yaml", fmt.Sprintf(blogCompose, i+1))
			pushed := time.Now()
			bad := in.commit("shop over a budget: " + tc.name)
			s, ok := pollStalled(run, shop.project, bad, 60*time.Second)
			if !ok {
				t.Fatalf("the commit did not stall: %s at %.12s, applied %.12s, error %q", s.State, s.Attempted, s.Applied, s.Error)
			}
			t.Logf("stalled %d ms after the push (1 s poll interval): %s", time.Since(pushed).Milliseconds(), s.Error)
			if !strings.Contains(s.Error, tc.want) {
				t.Errorf("the stall does not say %q: %q", tc.want, s.Error)
			}
			if s.Applied != good {
				t.Errorf("applied %s, want the previous commit %s", s.Applied, good)
			}
			if after := ids(shop.containers()); after != before {
				t.Errorf("a refused commit changed the live stack:\n%s\n→ %s", before, after)
			}
			run.waitApplied(blog.project, bad, 60*time.Second)
		})
	}
}
