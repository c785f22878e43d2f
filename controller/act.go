package controller

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
)

// ErrUnknownStack is an action on a stack this controller never deployed.
var ErrUnknownStack = errors.New("unknown stack")

// The actions a person can take on a stack.
const (
	ActRetry    = "retry"    // clear the failed commit: deploy the head again
	ActSuspend  = "suspend"  // stop acting on the stack, changing nothing
	ActResume   = "resume"   // follow the branch again (after suspend or rollback)
	ActRollback = "rollback" // put the stack on an earlier good commit and pin it
	ActSync     = "sync"     // look at the stack now
	// ActOverrideWindow deploys the stack's new commit now, outside its
	// deploy windows; the history names who asked.
	ActOverrideWindow = "override-window"
)

// Act records a person's decision about a stack and triggers a cycle to
// carry it out; the loop does the work, so a stack still never runs two
// deploys at once. It returns the stack's status as the decision left it.
// by names who asked, for the log.
func (c *Controller) Act(name, action, to, by string) (StackStatus, error) {
	c.mu.Lock()
	s, ok := c.stacks[name]
	c.mu.Unlock()
	if !ok || s.state().State == "" {
		return StackStatus{}, fmt.Errorf("%w %q: this controller has not deployed it", ErrUnknownStack, name)
	}
	var change func(st *store.StackState)
	switch action {
	case ActRetry:
		change = func(st *store.StackState) {
			st.Failed, st.Halted, st.RetryAt = "", false, time.Time{}
			if st.State == StateFailed || st.State == StateRolledBack || st.State == StateStalled || st.State == StateRetrying {
				st.Attempted = "" // deploy the target again
			}
		}
		s.resetFailures()
	case ActSuspend:
		change = func(st *store.StackState) { st.Suspended, st.State = true, StateSuspended }
	case ActResume:
		// The failed-commit mark stays: only retry clears it.
		change = func(st *store.StackState) {
			st.Suspended, st.Pinned = false, ""
			if st.State == StateSuspended {
				st.State, st.Error = StateInSync, ""
			}
		}
	case ActRollback:
		commit, err := c.rollbackTarget(s, to)
		if err != nil {
			return StackStatus{}, err
		}
		change = func(st *store.StackState) {
			st.Pinned, st.Suspended, st.Halted = commit, false, false
			if st.Failed == commit {
				st.Failed = "" // a person chose it again
			}
		}
	case ActSync:
		change = func(st *store.StackState) {}
	case ActOverrideWindow:
		change = func(st *store.StackState) { st.Override = by }
	default:
		return StackStatus{}, fmt.Errorf("unknown action %q: want retry, suspend, resume, rollback, sync or override-window", action)
	}
	s.update(change)
	c.log.Info("stack "+action+" asked", "stack", name, "to", gitsource.Short(to), "by", by)
	c.Trigger()
	return stackStatus(s.state()), nil
}

// rollbackTarget is the commit a rollback goes to: the one given, which
// must be in the clone, or else the last good deploy before the one live.
func (c *Controller) rollbackTarget(s *stack, to string) (string, error) {
	c.mu.Lock()
	src := c.o.Source
	c.mu.Unlock()
	if src == nil {
		return "", errors.New("the repository is not cloned yet")
	}
	if to != "" {
		commit, err := src.Commit(to)
		if err != nil {
			return "", fmt.Errorf("rollback to %s: %w", to, err)
		}
		// --verify-commits holds for a person's choice too.
		if err := src.VerifyCommit(commit.Hash); err != nil {
			return "", fmt.Errorf("rollback to %s: %w", commit.Short(), err)
		}
		return commit.Hash, nil
	}
	applied := s.state().Applied
	hist, err := c.o.Store.History(s.name, 0)
	if err != nil {
		return "", err
	}
	prefix := c.stackPath(s.name) + "/"
	for _, d := range hist {
		if d.Outcome != OutcomeSucceeded || d.Commit == applied {
			continue
		}
		// A deploy with the files that run now would change nothing.
		if same, err := sameFolder(src, prefix, d.Commit, applied); err == nil && !same {
			return d.Commit, nil
		}
	}
	return "", fmt.Errorf("stack %s has no earlier good deploy with other files to roll back to; give one with --to", s.name)
}

// sameFolder reports whether no path under prefix (nor the lint policy)
// changed between two commits.
func sameFolder(src Source, prefix, a, b string) (bool, error) {
	if a == b {
		return true, nil
	}
	paths, err := src.Changed(a, b)
	if err != nil {
		return false, err
	}
	for _, p := range paths {
		if strings.HasPrefix(p, prefix) || p == policyFile {
			return false, nil
		}
	}
	return true, nil
}
