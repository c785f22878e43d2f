package controller

import (
	"context"
	"sync"
	"testing"

	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/store"
)

// countingRecorder counts the writes of each stack on their way to the
// real store.
type countingRecorder struct {
	db *store.Store

	mu              sync.Mutex
	states, deploys map[string]int
}

var _ recorder = (*countingRecorder)(nil)

func (r *countingRecorder) PutState(st store.StackState) error {
	r.mu.Lock()
	r.states[st.Stack]++
	r.mu.Unlock()
	return r.db.PutState(st)
}

func (r *countingRecorder) AddDeploy(d *store.Deploy) error {
	r.mu.Lock()
	r.deploys[d.Stack]++
	r.mu.Unlock()
	return r.db.AddDeploy(d)
}

func (r *countingRecorder) reset() {
	r.mu.Lock()
	r.states, r.deploys = map[string]int{}, map[string]int{}
	r.mu.Unlock()
}

// TestOneWritePerReconcile: whatever a reconcile comes to, it writes the
// stack's state once, and at most one history entry and one notification:
// a stall, a deploy the engine could not take, and the cycles after each,
// which wait.
func TestOneWritePerReconcile(t *testing.T) {
	e := newCycleEnv(t, map[string]string{
		"stacks/shop/compose.yaml": goodCompose,
		"stacks/bad/compose.yaml":  "services:\n  web:\n    image: [\n",
	})
	rec := &countingRecorder{db: e.db}
	e.c.rec = rec
	ctx := context.Background()
	type want struct{ states, deploys, notes int }
	cycle := func(what string, wants map[string]want) {
		t.Helper()
		rec.reset()
		e.events = nil
		e.c.Once(ctx)
		for name, w := range wants {
			notes := 0
			for _, ev := range e.events {
				if ev.Stack == name {
					notes++
				}
			}
			got := want{rec.states[name], rec.deploys[name], notes}
			if got != w {
				t.Errorf("%s: stack %s wrote %d state(s), %d history entr(ies), %d notification(s); want %+v",
					what, name, got.states, got.deploys, got.notes, w)
			}
		}
	}
	cycle("first cycle", map[string]want{
		"shop": {1, 1, 1}, // the engine is away: failed, recorded, notified
		"bad":  {1, 1, 1}, // stalled, recorded, notified
	})
	if st := e.stackState(t, "bad"); st.State != StateStalled {
		t.Fatalf("bad: %+v, want stalled", st)
	}
	for _, ev := range e.events {
		if ev.Kind == notify.DeployStarted {
			t.Errorf("a deploy that never started was announced: %+v", ev)
		}
	}
	cycle("second cycle", map[string]want{
		"shop": {1, 0, 0}, // waits for its retry
		"bad":  {1, 0, 0}, // waits for new files
	})
}
