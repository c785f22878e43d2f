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
	"github.com/berth-gitops/berth/gitsource/gittest"
)

// TestControllerVerifyCommits: with --verify-commits only commits signed by
// a trusted key deploy; an unsigned head is refused with the reason in
// status and the stacks stay at the last trusted commit.
func TestControllerVerifyCommits(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	key := gittest.NewKey(t, "release manager")
	keys := filepath.Join(t.TempDir(), "trusted.asc")
	if err := os.WriteFile(keys, []byte(key.Armored), 0o644); err != nil {
		t.Fatal(err)
	}
	in.write("shop", "compose.yaml", shopCompose)
	signed := in.work.CommitSigned("signed shop", key)
	in.work.Push()
	run := in.startBerth("", "--verify-commits", "--trusted-keys-file", keys)
	run.waitApplied(shop.project, signed, 90*time.Second)
	before := ids(shop.containers())

	in.write("shop", "compose.yaml", strings.ReplaceAll(shopCompose, "app:1.0", "app:1.1"))
	unsigned := in.commit("unsigned change")
	run.waitFor("the unsigned head refused in status", 20*time.Second, func() bool {
		st, err := run.status()
		return err == nil && st.Source != nil && st.Source.Head != nil && st.Source.Head.Hash == unsigned &&
			strings.Contains(st.Source.Error, "not signed")
	})
	run.waitCycles(2) // polls that must not deploy it
	if s := run.stackState(shop.project); s.Applied != signed {
		t.Fatalf("an unsigned commit was deployed: %+v", s)
	}
	if got := ids(shop.containers()); got != before {
		t.Fatalf("the live stack changed under an unsigned head: %s → %s", before, got)
	}
}

// TestControllerPruneAndWarn: a stack that asked for prune_volumes loses
// its named volume with it; with --drift warn a removed container is
// reported, not put back. The clone is shallow (--shallow), which must
// not change what deploys.
func TestControllerPruneAndWarn(t *testing.T) {
	in := newInfra(t)
	data, shop := in.project("data"), in.project("shop")
	removeVolumeLater(t, in.cli, data.project+"_data")
	in.write("data", "compose.yaml", "x-berth:\n  prune_volumes: true\n"+dataCompose)
	in.write("shop", "compose.yaml", shopCompose)
	first := in.commit("data with prune_volumes, and shop")
	run := in.startBerth("", "--drift", "warn", "--shallow")
	run.waitApplied(data.project, first, 90*time.Second)
	run.waitApplied(shop.project, first, 30*time.Second)
	if !volumeExists(t, in.cli, data.project+"_data") {
		t.Fatal("the data volume was not created")
	}

	worker := shop.containers()[shop.name("worker", 1)]
	if _, err := in.cli.ContainerRemove(context.Background(), worker.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	run.waitFor("drift reported", 20*time.Second, func() bool {
		s := run.stackState(shop.project)
		return s.State == controller.StateDrifted && strings.Contains(s.Error, "missing")
	})
	run.waitCycles(2) // polls that must report the drift, not correct it
	if _, ok := shop.containers()[shop.name("worker", 1)]; ok {
		t.Fatal("--drift warn put the container back")
	}

	in.work.Remove("stacks/" + data.project)
	in.commit("retire data")
	run.waitFor("data removed with its volume", 30*time.Second, func() bool {
		return run.stackState(data.project).State == controller.StateRemoved && !volumeExists(t, in.cli, data.project+"_data")
	})
}

// TestControllerLintGate: a commit that breaks the production checklist (a
// literal token) stalls with the findings in status, never the value, and
// the live stack untouched; the repo's policy cannot except the error, the
// host's berth.yaml can, with a reason, and then it deploys.
func TestControllerLintGate(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", shopCompose)
	first := in.commit("shop")
	run := in.startBerth("")
	run.waitApplied(shop.project, first, 90*time.Second)
	before := ids(shop.containers())

	in.write("shop", "compose.yaml", strings.Replace(shopCompose, "  worker:\n    image: berthtest/app:1.0\n", "  worker:\n    image: berthtest/app:1.0\n    environment:\n      API_TOKEN: lint-canary-literal\n", 1))
	bad := in.commit("worker with a literal token")
	run.waitFor("stalled by lint", 30*time.Second, func() bool {
		s := run.stackState(shop.project)
		return s.State == controller.StateStalled && s.Attempted == bad
	})
	s := run.stackState(shop.project)
	if !strings.Contains(s.Error, "[secret-literal]") || !strings.Contains(s.Error, "compose.yaml:") || !strings.Contains(s.Error, `service "worker"`) ||
		strings.Contains(s.Error, "lint-canary-literal") {
		t.Fatalf("the stall should carry the finding with its file, line and service: %q", s.Error)
	}
	if got := ids(shop.containers()); got != before {
		t.Fatalf("a commit stalled by lint changed the live stack: %s → %s", before, got)
	}

	// The repository's policy may not except an error: that stalls too.
	in.work.Write(".berth/policy.yaml", "exceptions:\n  - rule: secret-literal\n    service: worker\n    reason: a test value, not a secret\n")
	repoExcepted := in.commit("except the worker's test token in the repo")
	run.waitFor("the repo's exception refused", 30*time.Second, func() bool {
		s := run.stackState(shop.project)
		return s.State == controller.StateStalled && s.Attempted == repoExcepted &&
			strings.Contains(s.Error, ".berth/policy.yaml:2: exceptions[0]: secret-literal is an error rule")
	})
	run.stop()

	// The host accepts it, in its berth.yaml.
	cfg := filepath.Join(t.TempDir(), "berth.yaml")
	if err := os.WriteFile(cfg, []byte("policy:\n  exceptions:\n    - {rule: secret-literal, service: worker, reason: \"a test value, not a secret\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run = in.startBerth(run.dataDir, "--config", cfg)
	in.work.Remove(".berth/policy.yaml")
	allowed := in.commit("the host excepts the worker's test token")
	run.waitApplied(shop.project, allowed, 30*time.Second)
	h := run.history(shop.project)
	if len(h) == 0 || len(h[0].Warnings) == 0 {
		t.Fatalf("the deploy should keep the lint warnings (no memory limit, no log rotation): %+v", h)
	}
}
