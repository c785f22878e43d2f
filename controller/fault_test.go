package controller

import (
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/reconcile"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
)

// TestFaultRecordsRetryOrStall: a fault that may pass leaves the stack
// retrying with a growing wait, notified once and kept out of the history;
// an input error then stalls it, recorded and notified, and clears the retry.
func TestFaultRecordsRetryOrStall(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var events []notify.Event
	c := &Controller{o: Options{Store: db, Host: "h", Notify: func(e notify.Event) { events = append(events, e) }},
		log: slog.New(slog.DiscardHandler), metrics: newMetrics(), stacks: map[string]*stack{}}
	s := c.newStack(store.StackState{Stack: "shop", State: StateInSync, Applied: cA, Good: cA, Attempted: cA})
	head := gitsource.Commit{Hash: cB, Author: "a", Message: "m"}

	var waits []time.Duration
	for range 3 {
		before := time.Now()
		s.settle(head, func(o *outcome) {
			s.fault(o, reconcile.Retrying("export failed", errors.New("stacks/shop is not a folder")))
		})
		st := s.state()
		if st.State != StateRetrying || st.Retry != "export failed" || st.Attempted != cB || st.Applied != cA {
			t.Fatalf("after a fault: %+v", st)
		}
		waits = append(waits, st.RetryAt.Sub(before).Round(time.Second))
	}
	if waits[0] != 2*time.Second || waits[1] != 4*time.Second || waits[2] != 8*time.Second {
		t.Fatalf("waits %v, want 2s 4s 8s", waits)
	}
	if h, _ := db.History("shop", 10); len(h) != 0 {
		t.Fatalf("retries reached the history: %+v", h)
	}
	if len(events) != 1 || events[0].Kind != notify.DeployFailed {
		t.Fatalf("events %+v, want one deploy_failed", events)
	}

	s.settle(head, func(o *outcome) { s.fault(o, reconcile.Stalling(errors.New(`service "web": field image: required`))) })
	st := s.state()
	if st.State != StateStalled || st.Retry != "" || !st.RetryAt.IsZero() || s.nextFailure() != 1 {
		t.Fatalf("after an input error: %+v, failures %d", st, s.nextFailure()-1)
	}
	h, _ := db.History("shop", 10)
	if len(h) != 1 || h[0].Outcome != OutcomeStalled || h[0].Commit != cB {
		t.Fatalf("history %+v, want one stall of %.7s", h, cB)
	}
	if len(events) != 2 || events[1].Kind != notify.Stalled {
		t.Fatalf("events %+v, want a stall after the fault", events)
	}
}

// settle is one reconcile towards head whose steps are step.
func (s *stack) settle(head gitsource.Commit, step func(o *outcome)) {
	o := s.begin(head)
	defer s.finish(o)
	step(o)
}
