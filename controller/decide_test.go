package controller

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/berth-gitops/berth/compose/load"
	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/reconcile"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/rollout"
)

const (
	cA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" // applied
	cB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" // the next commit
	cC = "cccccccccccccccccccccccccccccccccccccccc"
)

var now = time.Date(2026, 12, 7, 19, 0, 0, 0, time.UTC)

func inSync() store.StackState {
	return store.StackState{Stack: "shop", State: StateInSync, Applied: cA, Attempted: cA, Good: cA, Head: cA}
}

// TestDecideLook: what the loop does when it looks at a stack's target.
func TestDecideLook(t *testing.T) {
	with := func(f func(*store.StackState)) store.StackState {
		st := inSync()
		f(&st)
		return st
	}
	stalledB := with(func(st *store.StackState) { st.State, st.Attempted, st.Error = StateStalled, cB, "bad" })
	retryingB := with(func(st *store.StackState) {
		st.State, st.Attempted, st.Error, st.Retry, st.RetryAt = StateRetrying, cB, "x", "export failed", now.Add(8*time.Second)
	})
	failedB := with(func(st *store.StackState) { st.State, st.Failed, st.Attempted = StateRolledBack, cB, cB })
	cases := []struct {
		name    string
		st      store.StackState
		ev      event
		want    []action
		state   string
		attempt string
	}{
		{"same commit: drift check only", inSync(), event{target: cA}, []action{actCheckDrift}, StateInSync, cA},
		{"new commit: deploy", inSync(), event{target: cB}, []action{actDeploy}, StateInSync, cA},
		{"suspended: nothing", with(func(st *store.StackState) { st.Suspended = true }), event{target: cB}, nil, StateSuspended, cA},
		{"pinned to the applied commit: drift check", with(func(st *store.StackState) { st.Pinned = cA }), event{target: cA}, []action{actCheckDrift}, StateInSync, cA},
		{"failed commit: not retried", failedB, event{target: cB, sameAsFailed: true}, []action{actCheckDrift}, StateRolledBack, cB},
		{"commit with the failed commit's files: not retried", failedB, event{target: cC, sameAsFailed: true}, []action{actCheckDrift}, StateRolledBack, cB},
		{"failed and halted: left alone", with(func(st *store.StackState) { st.State, st.Failed, st.Halted = StateFailed, cB, true }),
			event{target: cB, sameAsFailed: true}, nil, StateFailed, cA},
		{"new commit after a failed one: deploy", failedB, event{target: cC}, []action{actDeploy}, StateRolledBack, cB},
		{"stalled commit: not retried", stalledB, event{target: cB, sameAsAttempted: true}, []action{actCheckDrift}, StateStalled, cB},
		{"commit with the stalled files: not retried, recorded", stalledB, event{target: cC, sameAsAttempted: true}, []action{actCheckDrift}, StateStalled, cC},
		{"stalled, files changed: deploy", stalledB, event{target: cC}, []action{actDeploy}, StateStalled, cB},
		{"stalled, host secrets changed: deploy", stalledB, event{target: cB, sameAsAttempted: true, secretsChanged: true}, []action{actDeploy}, StateStalled, cB},
		{"stalled, back to the applied commit: recovered", stalledB, event{target: cA}, []action{actCheckDrift}, StateInSync, cA},
		{"retrying before its time: nothing", retryingB, event{target: cB, now: now.Add(7 * time.Second)}, nil, StateRetrying, cB},
		{"retrying at its time: deploy", retryingB, event{target: cB, now: now.Add(8 * time.Second)}, []action{actDeploy}, StateRetrying, cB},
		{"retrying, new commit: deploy now", retryingB, event{target: cC, now: now}, []action{actDeploy}, StateRetrying, cB},
		{"retrying, back to the applied commit: recovered", retryingB, event{target: cA, now: now}, []action{actCheckDrift}, StateInSync, cA},
		{"putting the applied commit back failed: wait", with(func(st *store.StackState) {
			st.State, st.Retry, st.RetryAt = StateRetrying, "engine refused", now.Add(time.Minute)
		}), event{target: cA, now: now}, nil, StateRetrying, cA},
		{"putting the applied commit back failed, time passed: drift check", with(func(st *store.StackState) {
			st.State, st.Retry, st.RetryAt = StateRetrying, "engine refused", now.Add(-time.Second)
		}), event{target: cA, now: now}, []action{actCheckDrift}, StateRetrying, cA},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.ev.now.IsZero() {
				c.ev.now = now
			}
			got, acts := decide(c.st, c.ev)
			if !slices.Equal(acts, c.want) || got.State != c.state || got.Attempted != c.attempt {
				t.Fatalf("decide = %s at %.7s, %v; want %s at %.7s, %v", got.State, got.Attempted, acts, c.state, c.attempt, c.want)
			}
			if got.State != StateRetrying && (got.Retry != "" || !got.RetryAt.IsZero()) {
				t.Fatalf("a %s stack keeps a retry: %q at %v", got.State, got.Retry, got.RetryAt)
			}
		})
	}
}

// TestDecideFault: an input error stalls; a fault that may pass, or one
// nobody classified, retries with the capped backoff and never stalls; a
// failed verification rolls back. The applied commit stays.
func TestDecideFault(t *testing.T) {
	loadErr := &load.LoadError{Dir: "shop", Err: errors.New(`service "web": field image: required`)}
	diskErr := fmt.Errorf("export shop: %w", &fs.PathError{Op: "mkdir", Path: "stacks/shop", Err: syscall.ENOSPC})
	cases := []struct {
		name     string
		err      error
		failures int
		state    string
		want     []action
		wait     time.Duration
		reason   string
	}{
		{"bad file: stall", loadErr, 1, StateStalled, []action{actStall}, 0, ""},
		{"lint: stall", reconcile.Stalling(errors.New("lint: 1 error(s)")), 3, StateStalled, []action{actStall}, 0, ""},
		{"export failed: retry in 2s", reconcile.Retrying("export failed", errors.New("not a folder")), 1, StateRetrying, []action{actRetry}, 2 * time.Second, "export failed"},
		{"third fault: retry in 8s", reconcile.Engine(errors.New("conflict")), 3, StateRetrying, []action{actRetry}, 8 * time.Second, "engine refused"},
		{"disk full: retry, capped", diskErr, 40, StateRetrying, []action{actRetry}, backoffCap, "disk full"},
		{"disk full inside a load error: retry", &load.LoadError{Dir: "shop", Err: diskErr}, 2, StateRetrying, []action{actRetry}, 4 * time.Second, "disk full"},
		{"unclassified: retry", errors.New("surprise"), 1, StateRetrying, []action{actRetry}, 2 * time.Second, "unexpected error"},
		{"verification failed: roll back", &rollout.Failure{Gate: "healthy"}, 1, StateInSync, []action{actRollBack}, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := inSync()
			got, acts := decide(st, event{kind: evFault, target: cB, now: now, err: c.err, msg: "msg", failures: c.failures})
			if !slices.Equal(acts, c.want) || got.State != c.state {
				t.Fatalf("decide = %s, %v; want %s, %v", got.State, acts, c.state, c.want)
			}
			if got.Applied != cA || got.Good != cA {
				t.Fatalf("a fault moved the applied commit: %+v", got)
			}
			if c.state == StateInSync {
				return
			}
			if got.Attempted != cB || got.Error != "msg" {
				t.Fatalf("attempted %.7s, error %q", got.Attempted, got.Error)
			}
			wait := time.Duration(0)
			if !got.RetryAt.IsZero() {
				wait = got.RetryAt.Sub(now)
			}
			if wait != c.wait || got.Retry != c.reason {
				t.Fatalf("retry %q in %s, want %q in %s", got.Retry, wait, c.reason, c.wait)
			}
		})
	}
}

func TestRetryNote(t *testing.T) {
	st := store.StackState{State: StateRetrying, Retry: "engine unreachable", RetryAt: now.Add(7600 * time.Millisecond)}
	if got := RetryNote(st, now); got != "engine unreachable, next try in 8s" {
		t.Fatalf("note %q", got)
	}
	if got := RetryNote(st, now.Add(time.Minute)); got != "engine unreachable, next try in 0s" {
		t.Fatalf("overdue note %q", got)
	}
}

// TestSummarize: what a reconcile's outcome tells beyond the status, at
// most one history entry and one notification.
func TestSummarize(t *testing.T) {
	cases := []struct {
		name    string
		o       outcome
		history string
		note    notify.Kind
		reason  string
	}{
		{"waiting: nothing", outcome{end: endQuiet}, "", "", ""},
		{"in sync, no operation: nothing", outcome{end: endApplied, purpose: OutcomeSucceeded}, "", "", ""},
		{"in sync after faults: recovered", outcome{end: endApplied, purpose: OutcomeDrift, failures: 3}, "", notify.Recovered, ""},
		{"new commit deployed", outcome{end: endApplied, purpose: OutcomeSucceeded, ops: []string{"create web"}}, OutcomeSucceeded, notify.DeploySucceeded, ""},
		{"deployed after faults: one event", outcome{end: endApplied, purpose: OutcomeSucceeded, ops: []string{"create web"}, failures: 2},
			OutcomeSucceeded, notify.DeploySucceeded, "recovered after 2 failed tries"},
		{"drift put back: recorded, quiet", outcome{end: endApplied, purpose: OutcomeDrift, ops: []string{"start web"}}, OutcomeDrift, "", ""},
		{"secrets rolled: recorded, quiet", outcome{end: endApplied, purpose: OutcomeSecrets, ops: []string{"recreate web"}}, OutcomeSecrets, "", ""},
		{"stalled", outcome{end: endStalled, msg: "bad file"}, OutcomeStalled, notify.Stalled, "bad file"},
		{"first fault: announced", outcome{end: endRetrying, msg: "not a folder", retry: "export failed", failures: 1},
			"", notify.DeployFailed, "retrying: export failed: not a folder"},
		{"later faults: quiet", outcome{end: endRetrying, msg: "not a folder", retry: "export failed", failures: 2}, "", "", ""},
		{"engine refused", outcome{end: endFailed, msg: "conflict"}, OutcomeFailed, notify.DeployFailed, "conflict"},
		{"first deploy stopped", outcome{end: endFailed, msg: "unhealthy", reason: "unhealthy (first deploy: the stack was stopped)"},
			OutcomeFailed, notify.DeployFailed, "unhealthy (first deploy: the stack was stopped)"},
		{"rolled back", outcome{end: endRolledBack, msg: "unhealthy", back: cA}, OutcomeRolledBack, notify.RolledBack, "unhealthy"},
		{"removed: recorded, quiet", outcome{end: endRemoved, ops: []string{"remove web"}}, OutcomeRemoved, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			history, note, reason := summarize(c.o)
			if history != c.history || note != c.note || reason != c.reason {
				t.Fatalf("summarize = %q, %q, %q; want %q, %q, %q", history, note, reason, c.history, c.note, c.reason)
			}
		})
	}
}

// TestDecideWindows: outside the deploy windows a new commit waits, with
// the drift check still done; an override, a rollback (the pinned commit)
// and the live commit go ahead.
func TestDecideWindows(t *testing.T) {
	opens := now.Add(3 * time.Hour)
	closed := func(target string) event {
		return event{target: target, now: now, windowClosed: true, windowOpens: opens}
	}
	with := func(f func(*store.StackState)) store.StackState {
		st := inSync()
		f(&st)
		return st
	}
	waiting := with(func(st *store.StackState) { st.State, st.WindowOpens = StateWaiting, opens })
	cases := []struct {
		name     string
		st       store.StackState
		ev       event
		want     []action
		state    string
		opens    time.Time
		override string
	}{
		{"new commit, window closed: wait, check drift", inSync(), closed(cB), []action{actCheckDrift}, StateWaiting, opens, ""},
		{"still closed: keep waiting", waiting, closed(cB), []action{actCheckDrift}, StateWaiting, opens, ""},
		{"window opens: deploy", waiting, event{target: cB, now: now}, []action{actDeploy}, StateInSync, time.Time{}, ""},
		{"live commit, window closed: drift check only", inSync(), closed(cA), []action{actCheckDrift}, StateInSync, time.Time{}, ""},
		{"waiting commit reverted: in sync", waiting, closed(cA), []action{actCheckDrift}, StateInSync, time.Time{}, ""},
		{"override: deploy now", with(func(st *store.StackState) { st.State, st.Override = StateWaiting, "alice (uid 1000)" }),
			closed(cB), []action{actDeploy}, StateInSync, time.Time{}, "alice (uid 1000)"},
		{"override with nothing new: cleared", with(func(st *store.StackState) { st.Override = "alice (uid 1000)" }),
			closed(cA), []action{actCheckDrift}, StateInSync, time.Time{}, ""},
		{"rollback to the pinned commit: deploy", with(func(st *store.StackState) { st.Pinned = cC }), closed(cC), []action{actDeploy}, StateInSync, time.Time{}, ""},
		{"suspended: nothing", with(func(st *store.StackState) { st.Suspended = true }), closed(cB), nil, StateSuspended, time.Time{}, ""},
		{"retrying before its time: nothing", with(func(st *store.StackState) {
			st.State, st.Attempted, st.Retry, st.RetryAt = StateRetrying, cB, "export failed", now.Add(time.Minute)
		}), closed(cB), nil, StateRetrying, time.Time{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, acts := decide(c.st, c.ev)
			if !slices.Equal(acts, c.want) || got.State != c.state || !got.WindowOpens.Equal(c.opens) || got.Override != c.override {
				t.Fatalf("decide = %s opens %v override %q, %v; want %s opens %v override %q, %v",
					got.State, got.WindowOpens, got.Override, acts, c.state, c.opens, c.override, c.want)
			}
		})
	}
}
