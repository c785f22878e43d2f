package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/store"
)

// gatedCompose is a stack whose web service has a quick health gate.
const gatedCompose = `services:
  web:
    image: berthtest/app:1.0
    restart: unless-stopped
    environment:
      VERSION: "1.0"
    healthcheck:
      test: ["CMD", "/app", "health"]
      interval: 500ms
      timeout: 1s
      retries: 3
    x-berth:
      health_timeout: 6s
  worker:
    image: berthtest/app:1.0
    restart: unless-stopped
    x-berth:
      stability: 1s
`

// badWeb makes web's new version never healthy.
func badWeb(s string) string {
	return strings.Replace(strings.Replace(s, "web:\n    image: berthtest/app:1.0", "web:\n    image: berthtest/app:1.1", 1),
		"VERSION: \"1.0\"", "VERSION: \"1.1\"\n      HEALTHY: \"false\"", 1)
}

func (r *berthRun) history(stack string) []store.Deploy {
	r.t.Helper()
	out, _, code := runBerth(r.t, "history", stack, "--socket", r.socket, "--json", "--limit", "50")
	var h []store.Deploy
	if code != 0 || json.Unmarshal([]byte(out), &h) != nil {
		r.t.Fatalf("berth history: exit %d\n%s", code, out)
	}
	return h
}

func count(h []store.Deploy, outcome, commit string) int {
	n := 0
	for _, d := range h {
		if d.Outcome == outcome && (commit == "" || d.Commit == commit) {
			n++
		}
	}
	return n
}

// TestControllerRollsBack: a commit whose new version never becomes healthy
// is rolled back to the last good commit by itself and not retried; its
// git revert deploys as a normal commit; retry, rollback --to, suspend and
// resume do what a person asks.
func TestControllerRollsBack(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", gatedCompose)
	good := in.commit("shop 1.0")
	run := in.startBerth("")
	run.waitApplied(shop.project, good, 90*time.Second)
	web := shop.name("web", 1)
	before := shop.containers()

	t.Log("a new version that never becomes healthy is rolled back")
	in.write("shop", "compose.yaml", badWeb(gatedCompose))
	bad := in.commit("web 1.1")
	run.waitFor("rolled back", 60*time.Second, func() bool {
		s := run.stackState(shop.project)
		return s.State == controller.StateRolledBack && s.Failed == bad && s.Applied == good
	})
	s := run.stackState(shop.project)
	if !strings.Contains(s.Error, "web") || !strings.Contains(s.Error, "health") {
		t.Fatalf("the reason should name the service and the gate: %q", s.Error)
	}
	after := shop.containers()
	if after[web].Image != "berthtest/app:1.0" || after[web].State != "running" || len(after) != 2 {
		t.Fatalf("the previous version is not back: %v", ids(after))
	}
	if got := strings.TrimSpace(shop.exec(after[web].ID, "/app", "get", "http://127.0.0.1:8080/version")); got != "1.0" {
		t.Fatalf("web serves %q after the rollback, want 1.0", got)
	}
	if after[shop.name("worker", 1)].ID != before[shop.name("worker", 1)].ID {
		t.Fatal("the worker, which did not change, was recreated")
	}
	run.waitCycles(3) // polls that must not retry the failed commit
	if n := count(run.history(shop.project), controller.OutcomeRolledBack, bad); n != 1 {
		t.Fatalf("the failed commit was tried %d times, want once", n)
	}

	t.Log("berth retry deploys the failed commit again (and it fails again)")
	out, _, code := runBerth(t, "retry", shop.project, "--socket", run.socket)
	if code != 0 {
		t.Fatalf("berth retry: exit %d\n%s", code, out)
	}
	run.waitFor("the retry rolled back", 60*time.Second, func() bool {
		return count(run.history(shop.project), controller.OutcomeRolledBack, bad) == 2 && run.stackState(shop.project).State == controller.StateRolledBack
	})

	t.Log("the git revert of the bad commit deploys as a normal commit")
	in.work.Run("revert", "--no-edit", "HEAD")
	in.work.Push()
	reverted := in.work.Head()
	run.waitApplied(shop.project, reverted, 30*time.Second)
	if s := run.stackState(shop.project); s.Failed != "" {
		t.Fatalf("the revert left the failed mark: %+v", s)
	}

	t.Log("a new good commit, then rollback --to the first one pins it")
	in.write("shop", "compose.yaml", strings.Replace(gatedCompose, "stability: 1s", "stability: 1s\n    environment:\n      GREETING: hello", 1))
	next := in.commit("worker greeting")
	run.waitApplied(shop.project, next, 30*time.Second)
	out, _, code = runBerth(t, "rollback", shop.project, "--to", good[:12], "--socket", run.socket)
	if code != 0 || !strings.Contains(out, "pinned") {
		t.Fatalf("berth rollback: exit %d\n%s", code, out)
	}
	s = run.stackState(shop.project)
	if s.Applied != good || s.Pinned != good {
		t.Fatalf("after rollback --to: %+v", s)
	}
	in.write("shop", "compose.yaml", strings.Replace(gatedCompose, "stability: 1s", "stability: 1s\n    environment:\n      GREETING: bonjour", 1))
	later := in.commit("worker bonjour")
	run.waitCycles(2) // polls that fetch the new commit and must not deploy it
	if s := run.stackState(shop.project); s.Applied != good {
		t.Fatalf("a pinned stack followed the branch: %+v", s)
	}
	out, _, code = runBerth(t, "resume", shop.project, "--socket", run.socket)
	if code != 0 {
		t.Fatalf("berth resume: exit %d\n%s", code, out)
	}
	run.waitApplied(shop.project, later, 30*time.Second)

	t.Log("suspend leaves the stack alone, even its drift; resume puts it back")
	runBerth(t, "suspend", shop.project, "--socket", run.socket)
	run.waitFor("suspended", 10*time.Second, func() bool { return run.stackState(shop.project).State == controller.StateSuspended })
	worker := shop.containers()[shop.name("worker", 1)]
	shop.removeContainer(worker.ID)
	run.waitCycles(2) // polls that must leave the drift alone
	if _, ok := shop.containers()[shop.name("worker", 1)]; ok {
		t.Fatal("a suspended stack's drift was corrected")
	}
	runBerth(t, "resume", shop.project, "--socket", run.socket)
	run.waitFor("worker put back after resume", 30*time.Second, func() bool {
		c, ok := shop.containers()[shop.name("worker", 1)]
		return ok && c.State == "running"
	})
	out, _, _ = runBerth(t, "status", "--socket", run.socket)
	if !strings.Contains(out, shop.project) {
		t.Fatalf("status:\n%s", out)
	}

	t.Log("the metrics count the deploys and the rollbacks by outcome")
	fams := scrape(t, run.addr)
	for _, w := range []struct {
		name   string
		labels []string
	}{
		{"berth_deploys_total", []string{"outcome", "rolled back", "stack", shop.project}},
		{"berth_rollbacks_total", []string{"outcome", "succeeded", "stack", shop.project}},
	} {
		if v := mustMetric(t, fams, w.name, w.labels...).GetCounter().GetValue(); v != 2 {
			t.Errorf("%s%q = %g, want 2", w.name, w.labels, v)
		}
	}
	if v := mustMetric(t, fams, "berth_stack_state", "stack", shop.project, "state", "in sync").GetGauge().GetValue(); v != 1 {
		t.Errorf("berth_stack_state in sync = %g, want 1", v)
	}
	if fams["berth_fetches_total"].GetType() != dto.MetricType_COUNTER || fams["berth_deploys_total"].GetType() != dto.MetricType_COUNTER {
		t.Errorf("fetches and deploys are not counters: %v %v", fams["berth_fetches_total"].GetType(), fams["berth_deploys_total"].GetType())
	}
}

// TestControllerFirstDeployFails: with no good commit to go back to, a
// failed first deploy stops the stack's services rather than leaving them
// half started, and marks the stack failed with the reason.
func TestControllerFirstDeployFails(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", badWeb(gatedCompose))
	bad := in.commit("a broken first version")
	run := in.startBerth("")
	run.waitFor("failed", 90*time.Second, func() bool {
		s := run.stackState(shop.project)
		return s.State == controller.StateFailed && s.Failed == bad
	})
	for name, c := range shop.containers() {
		if c.State == "running" {
			t.Fatalf("%s still runs after a failed first deploy", name)
		}
	}
	if s := run.stackState(shop.project); !strings.Contains(s.Error, "web") {
		t.Fatalf("reason: %q", s.Error)
	}
}

// TestControllerKilledMidRollout: a controller SIGKILLed while a rollout is
// in flight converges, once started again, on one commit's state with no
// duplicate or orphan containers.
func TestControllerKilledMidRollout(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", gatedCompose)
	first := in.commit("shop 1.0")
	run := in.startBerth("")
	run.waitApplied(shop.project, first, 90*time.Second)

	slow := strings.Replace(strings.Replace(gatedCompose, "web:\n    image: berthtest/app:1.0", "web:\n    image: berthtest/app:1.1", 1),
		"VERSION: \"1.0\"", "VERSION: \"1.1\"\n      START_DELAY: 3s", 1)
	slow = strings.Replace(slow, "      retries: 3\n    x-berth:\n      health_timeout: 6s", "      retries: 3\n      start_period: 6s\n    x-berth:\n      health_timeout: 10s", 1)
	in.write("shop", "compose.yaml", slow)
	second := in.commit("web 1.1, slow to start")
	run.waitFor("the rollout in flight", 30*time.Second, func() bool {
		s := run.stackState(shop.project)
		return s.State == controller.StateDeploying && s.Rollout != nil && s.Rollout.Service == "web"
	})
	run.kill()
	t.Logf("killed mid-rollout; containers: %s", ids(shop.containers()))
	run2 := startBerthArgs(t, run.dataDir, run.args)
	run2.waitApplied(shop.project, second, 60*time.Second)
	cs := shop.containers()
	if len(cs) != 2 {
		t.Fatalf("want exactly web-1 and worker-1, got %s", ids(cs))
	}
	for _, name := range []string{shop.name("web", 1), shop.name("worker", 1)} {
		if c, ok := cs[name]; !ok || c.State != "running" {
			t.Fatalf("%s: %+v (all: %s)", name, c, ids(cs))
		}
	}
	if cs[shop.name("web", 1)].Image != "berthtest/app:1.1" {
		t.Fatalf("web runs %s", cs[shop.name("web", 1)].Image)
	}
}
