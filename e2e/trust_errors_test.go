package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller"
)

// TestTrustErrorsTransientFaultRetries: a fault of the host's data dir (the
// folder berth copies a stack's mounted files into is not a folder) puts
// the stack in "retrying" with the reason and the next try in the status,
// never "stalled", and the stack deploys by itself once the fault is gone.
// Before, the stack stalled and stayed behind until a new commit.
func TestTrustErrorsTransientFaultRetries(t *testing.T) {
	in := newInfra(t)
	blk := in.project("blk")
	dataDir := filepath.Join(t.TempDir(), "data")
	mounts := filepath.Join(dataDir, "mounts")
	if err := os.MkdirAll(mounts, 0o700); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(mounts, blk.project)
	if err := os.WriteFile(blocker, []byte("in the way\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in.write("blk", "compose.yaml", `services:
  web:
    image: berthtest/app:1.0
    restart: unless-stopped
    volumes:
      - ./app.ini:/etc/app.ini:ro
    x-berth:
      stability: 1s
`)
	in.write("blk", "app.ini", "level=one\n")
	c1 := in.commit("web reads app.ini")
	run := in.startBerth(dataDir)

	// Every status seen on the way must not be stalled.
	look := func() controller.StackStatus {
		s := run.stackState(blk.project)
		if s.State == controller.StateStalled {
			t.Fatalf("a fault of the data dir stalled the stack: %+v", s.StackState)
		}
		return s
	}
	var first time.Time
	run.waitFor("retrying after the export failed", 60*time.Second, func() bool {
		s := look()
		first = s.RetryAt
		return s.State == controller.StateRetrying && s.Attempted == c1 && s.Retry == "export failed" && !first.IsZero()
	})
	if s := look(); !strings.Contains(s.Error, "app.ini") || s.Applied != "" {
		t.Fatalf("retrying with %+v", s.StackState)
	}
	run.waitFor("a second try, still retrying", 30*time.Second, func() bool {
		s := look()
		return s.State == controller.StateRetrying && s.RetryAt.After(first)
	})
	out, _, code := runBerth(t, "status", "--socket", run.socket)
	if code != 0 || !strings.Contains(out, "retrying") || !strings.Contains(out, "export failed, next try in") {
		t.Fatalf("berth status (exit %d):\n%s", code, out)
	}

	t.Log("the fault goes away: the stack deploys by itself, with no new commit")
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	run.waitFor("in sync at "+c1[:12], 90*time.Second, func() bool {
		s := look()
		return s.Applied == c1 && s.State == controller.StateInSync
	})
	if n := count(run.history(blk.project), controller.OutcomeStalled, ""); n != 0 {
		t.Fatalf("history lists %d stalls", n)
	}
	if got := blk.exec(blk.containers()[blk.name("web", 1)].ID, "/app", "cat", "/etc/app.ini"); got != "level=one\n" {
		t.Fatalf("web reads %q", got)
	}
	if !run.logHas("stack retrying") {
		t.Fatal("the log does not say the stack is retrying")
	}
}
