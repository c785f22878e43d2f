package e2e

import (
	"fmt"
	"maps"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller"
)

// windowCompose is a one-service stack whose x-berth deny window covers
// the hour around start, in UTC.
func windowCompose(version string, start time.Time) string {
	return fmt.Sprintf(`services:
  web:
    image: berthtest/app:1.0
    restart: unless-stopped
    environment:
      VERSION: %q
    x-berth:
      stability: 1s
x-berth:
  windows:
    - {kind: deny, schedule: "%d %d * * *", duration: 3h, timezone: UTC}
`, version, start.Minute(), start.Hour())
}

// TestDeployWindows: inside the live commit's deny window a pushed commit
// waits, status saying when the window opens, while the live containers
// stay; `berth sync --override-window` deploys it now, and the history
// names the user who asked.
func TestDeployWindows(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	start := time.Now().UTC().Add(-time.Hour)
	opens := start.Truncate(time.Minute).Add(3 * time.Hour)
	in.write("shop", "compose.yaml", windowCompose("1.0", start))
	first := in.commit("shop 1.0")
	run := in.startBerth("")
	// The first commit has no live commit's window to wait for.
	run.waitApplied(shop.project, first, 90*time.Second)
	before := shop.containers()

	t.Log("a commit pushed inside the deny window waits")
	in.write("shop", "compose.yaml", windowCompose("1.1", start))
	second := in.commit("shop 1.1")
	run.waitFor("waiting for window", 60*time.Second, func() bool {
		s := run.stackState(shop.project)
		return s.State == controller.StateWaiting && s.Head == second
	})
	run.waitCycles(3)
	s := run.stackState(shop.project)
	if s.State != controller.StateWaiting || s.Applied != first {
		t.Fatalf("after 3 cycles the stack is %s at %.7s, want %s at %.7s", s.State, s.Applied, controller.StateWaiting, first)
	}
	if after := shop.containers(); !maps.EqualFunc(before, after, func(a, b ctr) bool { return a.ID == b.ID }) {
		t.Fatalf("the live containers changed while the commit waited:\nbefore %v\nafter  %v", before, after)
	}
	out, _, _ := runBerth(t, "status", "--socket", run.socket)
	want := "waiting for window, opens " + opens.Format("Mon 15:04") + " UTC"
	if !strings.Contains(out, want) {
		t.Fatalf("status should say %q:\n%s", want, out)
	}

	t.Log("berth sync --override-window deploys it now")
	if _, errOut, code := runBerth(t, "sync", shop.project, "--override-window", "--socket", run.socket); code != 0 {
		t.Fatalf("berth sync --override-window: exit %d: %s", code, errOut)
	}
	run.waitApplied(shop.project, second, 90*time.Second)
	if after := shop.containers(); maps.EqualFunc(before, after, func(a, b ctr) bool { return a.ID == b.ID }) {
		t.Fatalf("the override deployed nothing: the containers are those of %.7s", first)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	h := run.history(shop.project)
	if len(h) == 0 || h[0].Commit != second || h[0].Outcome != controller.OutcomeSucceeded || !strings.HasPrefix(h[0].By, me.Username+" ") {
		t.Fatalf("the newest deploy should be %.7s, succeeded, asked by %s: %+v", second, me.Username, h)
	}
	if s := run.stackState(shop.project); s.Override != "" || s.State != controller.StateInSync {
		t.Fatalf("after the deploy the stack is %s with override %q, want in sync with none", s.State, s.Override)
	}
	out, _, _ = runBerth(t, "history", shop.project, "--socket", run.socket)
	if !strings.Contains(out, "outside the deploy windows, asked by "+me.Username) {
		t.Fatalf("history should name who asked:\n%s", out)
	}
}
