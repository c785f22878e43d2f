package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// slowStack is a compose file whose load takes minutes: each service
// extends one service of a 1 MB file that compose-go reads again for each.
func slowStack() map[string]string {
	var big strings.Builder
	big.WriteString("services:\n  base:\n    image: nginx:1.27-alpine\n    environment:\n")
	for i := 0; big.Len() < 990_000; i++ {
		fmt.Fprintf(&big, "      V%d: value-%d-xxxxxxxxxxxxxxxxxxxxxxxx\n", i, i)
	}
	var c strings.Builder
	c.WriteString("services:\n")
	for i := range 8 {
		fmt.Fprintf(&c, "  s%d:\n    extends: {file: big.yaml, service: base}\n", i)
	}
	return map[string]string{"stacks/slow/big.yaml": big.String(), "stacks/slow/compose.yaml": c.String()}
}

// TestCycleIsolatesBadStacks: in one cycle a folder named with a newline,
// one with an escape and a load that overruns the budget each stall alone,
// quoted and named; the good stack still reaches the engine (retrying, as
// none listens), the cycle does not fail, a stack meant for another host is
// never exported, and a stop during a load that overruns ends the cycle.
func TestCycleIsolatesBadStacks(t *testing.T) {
	files := map[string]string{
		"stacks/shop/compose.yaml":       goodCompose,
		"stacks/bad\nname/compose.yaml":  goodCompose,
		"stacks/\x1b[2Jred/compose.yaml": goodCompose,
		"stacks/other/compose.yaml":      "x-berth:\n  hosts: [db*]\n" + goodCompose,
	}
	for k, v := range slowStack() {
		files[k] = v
	}
	e := newCycleEnv(t, files)
	e.c.o.LoadTimeout = time.Second
	start := time.Now()
	e.c.Once(context.Background())
	t.Logf("cycle took %s", time.Since(start).Round(time.Millisecond))
	head := e.w.Head()

	if shop := e.stackState(t, "shop"); shop.State != StateRetrying || shop.Retry != "engine unreachable" {
		t.Errorf("shop: %+v, want retrying on the unreachable engine", shop)
	}
	for name, want := range map[string]string{
		"bad\nname":  `stack folder "bad\nname": a stack's name starts with a letter or digit`,
		"\x1b[2Jred": `stack folder "\x1b[2Jred": a stack's name`,
		"slow":       "load took longer than 1s",
	} {
		st := e.stackState(t, name)
		if st.State != StateStalled || st.Attempted != head || !strings.Contains(st.Error, want) {
			t.Errorf("%q: %s at %.7s with %q, want stalled at %.7s saying %q", name, st.State, st.Attempted, st.Error, head, want)
		}
	}
	if st := e.c.Status(); st.Source.Error != "" {
		t.Errorf("the cycle failed: %s", st.Source.Error)
	}
	if _, err := os.Stat(filepath.Join(e.c.o.StacksDir, "other")); !os.IsNotExist(err) {
		t.Errorf("the stack meant for another host was exported: %v", err)
	}

	// The load left behind still runs: the stack is not loaded twice at once.
	e.w.Write("stacks/slow/compose.yaml", files["stacks/slow/compose.yaml"]+"# changed\n")
	e.w.Commit("slow again")
	e.w.Push()
	e.c.Once(context.Background())
	if st := e.stackState(t, "slow"); !strings.Contains(st.Error, "an earlier load of the stack") {
		t.Errorf("slow: %q, want the earlier load still running", st.Error)
	}
}

// TestStopDuringSlowLoad: a stop while a load runs ends the cycle at once,
// without stalling the stack: its files were not judged.
func TestStopDuringSlowLoad(t *testing.T) {
	e := newCycleEnv(t, slowStack())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	done := make(chan struct{})
	go func() {
		e.c.Once(ctx)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the cycle did not end within 20 s of the stop while a load ran (the budget is 30 s)")
	}
	if st := e.stackState(t, "slow"); st.State == StateStalled {
		t.Errorf("slow stalled on a stop: %+v", st)
	}
}
