package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller"
)

// TestControllerRemoteDown: a Git server that goes away is retried with
// backoff, shown in status, and the recovery is logged once.
func TestControllerRemoteDown(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", shopCompose)
	first := in.commit("shop")
	run := in.startBerth("")
	run.waitApplied(shop.project, first, 90*time.Second)

	in.srv.Stop()
	run.waitFor("fetch failures in status", 20*time.Second, func() bool {
		st, err := run.status()
		return err == nil && st.Source != nil && st.Source.Failures >= 2 && st.Source.Error != ""
	})
	before := ids(shop.containers())
	in.srv.Start()
	in.write("shop", "compose.yaml", strings.ReplaceAll(shopCompose, "app:1.0", "app:1.1"))
	second := in.commit("both 1.1")
	// Backoff is at most 2+4+8 s after three failures.
	run.waitApplied(shop.project, second, 60*time.Second)
	if ids(shop.containers()) == before {
		t.Fatal("the commit after the outage was not deployed")
	}
	if n := strings.Count(run.logs(), "git source recovered"); n != 1 {
		t.Fatalf("recovery logged %d times, want once", n)
	}
}

// TestControllerWrongCredentials: a wrong password is a clear error in
// status and the log, and the password itself is never shown.
func TestControllerWrongCredentials(t *testing.T) {
	in := newInfra(t)
	in.write("shop", "compose.yaml", shopCompose)
	in.commit("shop")
	pw := filepath.Join(t.TempDir(), "pw")
	const wrong = "wrong-password-canary"
	if err := os.WriteFile(pw, []byte(wrong), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	run := startBerthArgs(t, dataDir, []string{"run", "--repo", in.srv.URL("infra"), "--git-username", gitUser, "--git-password-file", pw,
		"--data-dir", dataDir, "--listen", freeAddr(t), "--poll", "1s", "--host", "host-a", "--log-format", "json"})
	run.waitFor("an auth error in status", 20*time.Second, func() bool {
		st, err := run.status()
		return err == nil && st.Source != nil && st.Source.Error != ""
	})
	st, _ := run.status()
	if !strings.Contains(strings.ToLower(st.Source.Error), "auth") {
		t.Fatalf("status error should say authentication failed: %q", st.Source.Error)
	}
	run.stop()
	if strings.Contains(run.logs(), wrong) || strings.Contains(st.Source.Error, wrong) {
		t.Fatal("the password reached the log or the status")
	}
	if len(st.Stacks) != 0 {
		t.Fatalf("nothing should deploy without the repo: %+v", st.Stacks)
	}
}

// TestControllerTargetsHosts: two controllers with different --host follow
// one repo and each deploys only its own stacks; a stack retargeted away
// from a host is removed there.
func TestControllerTargetsHosts(t *testing.T) {
	in := newInfra(t)
	a, b := in.project("only-a"), in.project("only-b")
	in.write("only-a", "compose.yaml", "x-berth:\n  hosts: [host-a]\n"+shopCompose)
	in.write("only-b", "compose.yaml", "x-berth:\n  hosts: [host-b*]\n"+shopCompose)
	first := in.commit("one stack per host")
	runA := in.startBerth("", "--host", "host-a")
	runB := in.startBerth("", "--host", "host-b1")
	runA.waitApplied(a.project, first, 90*time.Second)
	runB.waitApplied(b.project, first, 60*time.Second)
	if s := runA.stackState(b.project); s.State != "" {
		t.Fatalf("host-a took host-b's stack: %+v", s)
	}
	if s := runB.stackState(a.project); s.State != "" {
		t.Fatalf("host-b1 took host-a's stack: %+v", s)
	}
	if len(a.containers()) != 2 || len(b.containers()) != 2 {
		t.Fatalf("containers: a %v, b %v", ids(a.containers()), ids(b.containers()))
	}

	in.write("only-a", "compose.yaml", "x-berth:\n  hosts: [host-c]\n"+shopCompose)
	in.commit("move only-a to host-c")
	runA.waitFor("only-a removed from host-a", 30*time.Second, func() bool {
		return runA.stackState(a.project).State == controller.StateRemoved && len(a.containers()) == 0
	})
	if len(b.containers()) != 2 {
		t.Fatalf("host-b's stack was touched: %v", ids(b.containers()))
	}
}
