package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/commitstatus"
	"github.com/berth-gitops/berth/controller/notify"
)

// policyAttacks are commits that ask the host for more than the baseline
// profile gives: each adds lines to the worker service of shopCompose.
var policyAttacks = []struct{ name, worker, rule, field string }{
	{"host pid", "    pid: host\n", "host-pid", "pid"},
	{"host network", "    network_mode: host\n", "host-network", "network_mode"},
	{"all capabilities", "    cap_add: [ALL]\n", "capabilities", "cap_add[0]"},
	{"privileged", "    privileged: true\n", "privileged", "privileged"},
	{"engine socket", "    volumes: [\"/var/run/docker.sock:/var/run/docker.sock\"]\n", "engine-socket", "volumes[0].source"},
	{"host root through init", "    volumes:\n      - type: bind\n        source: /proc/1/root\n        target: /host\n        read_only: true\n", "host-system-mount", "volumes[0].source"},
}

// withWorker is shopCompose with lines added to the worker service.
func withWorker(lines string) string { return shopCompose + lines }

// TestTrustPolicyRefusesHostAccess: each commit that asks for the host
// (its namespaces, every capability, privileged, the engine's socket, the
// host's root through /proc) stalls with the rule, service and field in
// status and history, and the live stack stays as it was; the repo's own
// policy cannot except them; an exception in the host's berth.yaml lets
// the one excepted service deploy, and no other.
func TestTrustPolicyRefusesHostAccess(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", shopCompose)
	first := in.commit("shop")
	run := in.startBerth("")
	run.waitApplied(shop.project, first, 90*time.Second)
	before := ids(shop.containers())

	for _, a := range policyAttacks {
		in.write("shop", "compose.yaml", withWorker(a.worker))
		bad := in.commit("worker asks for " + a.name)
		s := waitStalled(run, shop.project, bad)
		want := "[" + a.rule + `] service "worker": ` + a.field + ":"
		if !strings.Contains(s.Error, want) || !strings.Contains(s.Error, "compose.yaml:") {
			t.Fatalf("%s: the stall should name rule, service and field (%q): %q", a.name, want, s.Error)
		}
		if got := ids(shop.containers()); got != before {
			t.Fatalf("%s: a refused commit changed the live stack: %s → %s", a.name, before, got)
		}
		// The commit status keeps the start of the reason: it must say what.
		st, ok := commitstatus.StatusOf(notify.Event{Kind: notify.Stalled, Commit: bad, Host: "host-a", Stack: shop.project, Reason: s.Error})
		if d := []rune(st.Description); !ok || !strings.Contains(string(d[:min(len(d), commitstatus.MaxDescription-1)]), "["+a.rule+`] service "worker" field `+a.field) {
			t.Fatalf("%s: the commit status should name rule, service and field: %q", a.name, st.Description)
		}
		if h := run.history(shop.project); len(h) == 0 || h[0].Commit != bad || h[0].Outcome != controller.OutcomeStalled || !strings.Contains(h[0].Error, want) {
			t.Fatalf("%s: the history should record the refusal: %+v", a.name, h[:min(1, len(h))])
		}
	}

	// The repository's policy, part of the same change, cannot lift it.
	in.work.Write(".berth/policy.yaml", "exceptions:\n  - rule: host-pid\n    service: worker\n    reason: reads host processes\n")
	in.write("shop", "compose.yaml", withWorker(policyAttacks[0].worker))
	repoExcepted := in.commit("worker asks for the host's pid namespace, and the repo excepts it")
	s := waitStalled(run, shop.project, repoExcepted)
	if !strings.Contains(s.Error, `[host-pid] service "worker": pid:`) {
		t.Fatalf("the repo's exception should change nothing: %q", s.Error)
	}
	if got := ids(shop.containers()); got != before {
		t.Fatalf("the repo's exception changed the live stack: %s → %s", before, got)
	}
	run.stop()

	// The host accepts host-pid for the worker alone.
	cfg := filepath.Join(t.TempDir(), "berth.yaml")
	body := "policy:\n  exceptions:\n    - {rule: host-pid, stack: " + shop.project + ", service: worker, reason: \"reads host processes\"}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	run = in.startBerth(run.dataDir, "--config", cfg)
	in.work.Remove(".berth/policy.yaml")
	in.write("shop", "compose.yaml", strings.Replace(withWorker("    pid: host\n"), "  worker:\n", "    pid: host\n  worker:\n", 1))
	both := in.commit("web asks for the host's pid namespace too")
	s = waitStalled(run, shop.project, both)
	if !strings.Contains(s.Error, `[host-pid] service "web": pid:`) || strings.Contains(s.Error, `service "worker"`) {
		t.Fatalf("only web should be refused: %q", s.Error)
	}
	in.write("shop", "compose.yaml", withWorker("    pid: host\n"))
	excepted := in.commit("worker alone asks for the host's pid namespace")
	run.waitApplied(shop.project, excepted, 60*time.Second)
	worker, err := in.cli.ContainerInspect(context.Background(), shop.name("worker", 1), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mode := worker.Container.HostConfig.PidMode; mode != "host" {
		t.Fatalf("the excepted worker runs with pid mode %q, want host", mode)
	}
}

// waitStalled waits for the stack to stall at commit and returns its status.
func waitStalled(run *berthRun, stack, commit string) controller.StackStatus {
	run.t.Helper()
	run.waitFor("stalled at "+commit[:12], 30*time.Second, func() bool {
		s := run.stackState(stack)
		return s.State == controller.StateStalled && s.Attempted == commit
	})
	return run.stackState(stack)
}
