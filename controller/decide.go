package controller

import (
	"fmt"
	"time"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/reconcile"
	"github.com/berth-gitops/berth/controller/store"
)

// event is what the loop learned about a stack: a look at its target
// commit, or a fault on the way to it.
type event struct {
	kind   eventKind
	target string // the commit to reach: the branch head or the pinned commit
	now    time.Time

	// For evLook, answered only when the decision needs them: whether the
	// stack's files at target are those of st.Failed and st.Attempted, and
	// whether the host secrets changed since the stack stalled.
	sameAsFailed, sameAsAttempted, secretsChanged bool

	// For evLook: whether the deploy windows keep a new commit out now,
	// and when the next one opens.
	windowClosed bool
	windowOpens  time.Time

	// For evFault: the error, its message as status shows it, and the
	// consecutive faults of the stack, this one included.
	err      error
	msg      string
	failures int
}

type eventKind int

const (
	evLook  eventKind = iota // a poll or a push: the target is known
	evFault                  // loading or deploying the target failed
)

// action is engine or bookkeeping work the loop does after a decision.
type action int

const (
	actDeploy     action = iota + 1 // load the target and roll it out
	actCheckDrift                   // compare the live stack with the applied commit
	actStall                        // log, record and notify the stall
	actRetry                        // log the fault; berth tries again at RetryAt
	actRollBack                     // verification failed: back to the last good commit
)

// decide is the stack's decision, without Docker or Git: the state the
// stack moves to and the work to do.
func decide(st store.StackState, ev event) (store.StackState, []action) {
	if ev.kind == evFault {
		return decideFault(st, ev)
	}
	if st.Suspended {
		st.State = StateSuspended
		return st, nil
	}
	st.WindowOpens = time.Time{}
	switch {
	case ev.target == st.Applied:
		st.Override = "" // nothing to deploy: a past override ends
		if st.State == StateWaiting {
			st.State = StateInSync // the waiting commit was left for the live one
		}
		if st.State == StateRetrying && st.Attempted == st.Applied && ev.now.Before(st.RetryAt) {
			return st, nil // putting the applied commit back failed: wait
		}
		if (st.State == StateRetrying || st.State == StateStalled) && st.Attempted != ev.target {
			// The commit that stalled or kept failing was left for the one
			// that runs: the stack recovered.
			st.State, st.Attempted, st.Error = StateInSync, ev.target, ""
			st.Retry, st.RetryAt = "", time.Time{}
		}
		return st, []action{actCheckDrift}
	case st.Failed != "" && ev.sameAsFailed:
		// The commit that failed verification, or one with the same files:
		// never retried by itself.
		if st.Halted {
			return st, nil // even the rollback failed: a person decides
		}
		return st, []action{actCheckDrift}
	case st.State == StateStalled && ev.sameAsAttempted && !ev.secretsChanged:
		// A person must fix the files (or add the secret they ask for).
		st.Attempted = ev.target
		return st, []action{actCheckDrift}
	case st.State == StateRetrying && ev.target == st.Attempted && ev.now.Before(st.RetryAt):
		return st, nil
	}
	if ev.windowClosed && st.Override == "" && st.Pinned != ev.target {
		// Outside the deploy windows a new commit waits; a person's
		// rollback (the pinned commit) and drift correction do not.
		st.State, st.WindowOpens = StateWaiting, ev.windowOpens
		return st, []action{actCheckDrift}
	}
	if st.State == StateWaiting {
		st.State = StateInSync // the deploy sets its own state
	}
	return st, []action{actDeploy}
}

// decideFault answers a fault on the way to ev.target: an input error
// stalls the stack until its files or the host secrets change; a fault that
// may pass, or one nobody classified, retries with backoff; a failed
// verification rolls back. The live stack stays as it is in each case.
func decideFault(st store.StackState, ev event) (store.StackState, []action) {
	kind, reason := reconcile.Classify(ev.err)
	switch kind {
	case reconcile.RollBack:
		return st, []action{actRollBack}
	case reconcile.Stall:
		st.State, st.Attempted, st.Error = StateStalled, ev.target, ev.msg
		st.Retry, st.RetryAt = "", time.Time{}
		return st, []action{actStall}
	}
	st.State, st.Attempted, st.Error = StateRetrying, ev.target, ev.msg
	st.Retry, st.RetryAt = reason, ev.now.Add(backoff(ev.failures))
	return st, []action{actRetry}
}

// summarize decides what finish tells beyond the status: the outcome the
// history records ("" for none) and the notification ("" for none) with
// its reason. A reconcile tells at most one of each: a commit that deploys
// after failed tries is announced as deployed, noting the recovery; a
// fault that may pass is announced at its first try only; putting drift
// or changed secrets back is recorded but not announced.
func summarize(o outcome) (history string, note notify.Kind, reason string) {
	reason = o.reason
	if reason == "" {
		reason = o.msg
	}
	switch o.end {
	case endApplied:
		// A new commit is recorded even with nothing left to do: its
		// containers may be those of a deploy whose record a crash lost.
		deployed := len(o.ops) > 0 || (o.newCommit && o.purpose == OutcomeSucceeded)
		if deployed {
			history = o.purpose
		}
		switch {
		case deployed && o.purpose == OutcomeSucceeded:
			note, reason = notify.DeploySucceeded, ""
			if o.failures > 0 {
				reason = fmt.Sprintf("recovered after %d failed tries", o.failures)
			}
		case o.failures > 0:
			note, reason = notify.Recovered, ""
		}
		return history, note, reason
	case endStalled:
		return OutcomeStalled, notify.Stalled, reason
	case endRetrying:
		if o.failures == 1 {
			return "", notify.DeployFailed, "retrying: " + o.retry + ": " + reason
		}
		return "", "", ""
	case endFailed:
		return OutcomeFailed, notify.DeployFailed, reason
	case endRolledBack:
		return OutcomeRolledBack, notify.RolledBack, reason
	case endRemoved:
		return OutcomeRemoved, "", ""
	}
	return "", "", ""
}

// RetryNote is the status line of a retrying stack, e.g. "engine
// unreachable, next try in 8s".
func RetryNote(st store.StackState, now time.Time) string {
	wait := max(st.RetryAt.Sub(now), 0).Round(time.Second)
	return fmt.Sprintf("%s, next try in %s", st.Retry, wait)
}

// WindowNote is the status line of a stack waiting for a deploy window,
// e.g. "waiting for window, opens Mon 08:00 Europe/Berlin".
func WindowNote(st store.StackState, now time.Time) string {
	return "waiting for window, opens " + compose.WindowNote(st.WindowOpens, now)
}
