package controller

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
)

// fakeSource answers the Git questions a person's action asks; only the
// answers a test sets are given, every other call fails the test. What a
// rollback goes to is berth's decision, made from these answers.
type fakeSource struct {
	t       *testing.T
	fetch   func() (gitsource.Commit, error)
	commit  func(hash string) (gitsource.Commit, error)
	verify  func(hash string) error
	changed func(from, to string) ([]string, error)
}

var _ Source = (*fakeSource)(nil)

func (f *fakeSource) unexpected(name string) error {
	f.t.Helper()
	f.t.Errorf("unexpected Source.%s", name)
	return errors.New("unexpected call")
}

func (f *fakeSource) Fetch(context.Context) (gitsource.Commit, error) {
	if f.fetch == nil {
		return gitsource.Commit{}, f.unexpected("Fetch")
	}
	return f.fetch()
}
func (f *fakeSource) Head() (gitsource.Commit, error) {
	return gitsource.Commit{}, f.unexpected("Head")
}
func (f *fakeSource) Dirs(string, string) ([]string, error) {
	return nil, f.unexpected("Dirs")
}
func (f *fakeSource) ReadFile(string, string) ([]byte, error) { return nil, f.unexpected("ReadFile") }
func (f *fakeSource) FileSize(string, string) (int64, error)  { return 0, f.unexpected("FileSize") }
func (f *fakeSource) ExportTree(string, string, string) (gitsource.Export, error) {
	return gitsource.Export{}, f.unexpected("ExportTree")
}
func (f *fakeSource) ExportPath(string, string, string, string) (gitsource.Export, error) {
	return gitsource.Export{}, f.unexpected("ExportPath")
}
func (f *fakeSource) TreeHash(string, string) (string, error) { return "", f.unexpected("TreeHash") }
func (f *fakeSource) Changed(from, to string) ([]string, error) {
	if f.changed == nil {
		return nil, f.unexpected("Changed")
	}
	return f.changed(from, to)
}
func (f *fakeSource) Commit(hash string) (gitsource.Commit, error) {
	if f.commit == nil {
		return gitsource.Commit{}, f.unexpected("Commit")
	}
	return f.commit(hash)
}
func (f *fakeSource) VerifyCommit(hash string) error {
	if f.verify == nil {
		return f.unexpected("VerifyCommit")
	}
	return f.verify(hash)
}

// actController is a controller with the real store in a temp dir and one
// stack in state st.
func actController(t *testing.T, src Source, st store.StackState) *Controller {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.PutState(st); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Store: db, Path: "stacks", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if src != nil {
		c.o.Source = src
	}
	return c
}

func triggered(c *Controller) bool {
	select {
	case <-c.trigger:
		return true
	default:
		return false
	}
}

// TestActRecordsDecision: each action changes the fields it owns, keeps
// the rest, is stored, and triggers a cycle.
func TestActRecordsDecision(t *testing.T) {
	failedB := store.StackState{Stack: "shop", State: StateFailed, Applied: cA, Good: cA, Attempted: cB, Failed: cB, Halted: true, Error: "gate"}
	for _, tc := range []struct {
		name   string
		before store.StackState
		action string
		check  func(st store.StackState) bool
	}{
		{"retry after a failure deploys the target again", failedB, ActRetry, func(st store.StackState) bool {
			return st.Failed == "" && !st.Halted && st.Attempted == "" && st.Applied == cA && st.State == StateFailed
		}},
		{"retry when in sync keeps the attempt", store.StackState{Stack: "shop", State: StateInSync, Applied: cA, Attempted: cA}, ActRetry,
			func(st store.StackState) bool { return st.Attempted == cA && st.State == StateInSync }},
		{"retry of a stalled stack loads it again", store.StackState{Stack: "shop", State: StateStalled, Applied: cA, Attempted: cB}, ActRetry,
			func(st store.StackState) bool { return st.Attempted == "" }},
		{"suspend", failedB, ActSuspend, func(st store.StackState) bool {
			return st.Suspended && st.State == StateSuspended && st.Failed == cB && st.Applied == cA
		}},
		{"resume keeps the failed mark", store.StackState{Stack: "shop", State: StateSuspended, Suspended: true, Pinned: cC, Failed: cB, Error: "x"}, ActResume,
			func(st store.StackState) bool {
				return !st.Suspended && st.Pinned == "" && st.State == StateInSync && st.Error == "" && st.Failed == cB
			}},
		{"resume of a rolled back stack keeps its state", store.StackState{Stack: "shop", State: StateRolledBack, Pinned: cA, Failed: cB}, ActResume,
			func(st store.StackState) bool { return st.Pinned == "" && st.State == StateRolledBack }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := actController(t, nil, tc.before)
			got, err := c.Act("shop", tc.action, "", "test")
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(got.StackState) {
				t.Errorf("after %s: %+v", tc.action, got.StackState)
			}
			stored, _, err := c.o.Store.State("shop")
			if err != nil || !sameState(stored, got.StackState) {
				t.Errorf("stored %+v (%v), want %+v", stored, err, got.StackState)
			}
			if !triggered(c) {
				t.Error("the action did not trigger a cycle")
			}
		})
	}
}

func TestActRefusesUnknown(t *testing.T) {
	c := actController(t, nil, store.StackState{Stack: "shop", State: StateInSync})
	if _, err := c.Act("blog", ActRetry, "", "test"); !errors.Is(err, ErrUnknownStack) {
		t.Errorf("an unknown stack: %v, want ErrUnknownStack", err)
	}
	_, err := c.Act("shop", "restart", "", "test")
	if err == nil || !strings.Contains(err.Error(), `"restart"`) {
		t.Errorf("an unknown action: %v, want it named", err)
	}
	if triggered(c) {
		t.Error("a refused action triggered a cycle")
	}
	if _, err := c.Act("shop", ActRollback, "", "test"); err == nil || !strings.Contains(err.Error(), "not cloned") {
		t.Errorf("a rollback before the clone: %v", err)
	}
}

// TestRollbackTarget: without --to a rollback goes to the newest good
// deploy before the live one whose files differ; with --to, to that
// commit if it passes verification.
func TestRollbackTarget(t *testing.T) {
	const (
		c1 = "1111111111111111111111111111111111111111"
		c2 = "2222222222222222222222222222222222222222"
		c3 = "3333333333333333333333333333333333333333"
		c4 = "4444444444444444444444444444444444444444"
	)
	src := &fakeSource{t: t,
		changed: func(from, to string) ([]string, error) {
			if to != c4 {
				t.Errorf("Changed(%.7s, %.7s): want a diff against the live commit", from, to)
			}
			switch from {
			case c3: // only another stack changed since
				return []string{"stacks/blog/compose.yaml", "stacks/shop-old/x"}, nil
			case c2:
				return nil, errors.New("object not found")
			}
			return []string{"stacks/shop/compose.yaml"}, nil
		},
		commit: func(hash string) (gitsource.Commit, error) {
			if hash == "v1" {
				return gitsource.Commit{Hash: c1}, nil
			}
			return gitsource.Commit{}, errors.New("reference not found")
		},
		verify: func(hash string) error {
			if hash == c1 {
				return nil
			}
			return errors.New("no good signature")
		},
	}
	c := actController(t, src, store.StackState{Stack: "shop", State: StateInSync, Applied: c4, Good: c4, Failed: c1, Halted: true})
	for _, d := range []store.Deploy{
		{Stack: "shop", Commit: c1, Outcome: OutcomeSucceeded},
		{Stack: "shop", Commit: c1, Outcome: OutcomeFailed},
		{Stack: "shop", Commit: c2, Outcome: OutcomeSucceeded},
		{Stack: "shop", Commit: c3, Outcome: OutcomeSucceeded},
		{Stack: "shop", Commit: cB, Outcome: OutcomeFailed},
		{Stack: "shop", Commit: c4, Outcome: OutcomeSucceeded},
	} {
		if err := c.o.Store.AddDeploy(&d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Act("shop", ActRollback, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	// c3 has the live files, c2 cannot be compared: c1 it is, and a person
	// choosing the failed commit clears its mark.
	if got.Pinned != c1 || got.Failed != "" || got.Halted || got.Suspended {
		t.Errorf("rollback: %+v, want pinned to %.7s", got.StackState, c1)
	}

	if got, err := c.Act("shop", ActRollback, "v1", "test"); err != nil || got.Pinned != c1 {
		t.Errorf("rollback --to v1: %+v, %v", got.StackState, err)
	}
	if _, err := c.Act("shop", ActRollback, "nope", "test"); err == nil || !strings.Contains(err.Error(), "rollback to nope") {
		t.Errorf("rollback to a commit not in the clone: %v", err)
	}
	src.commit = func(string) (gitsource.Commit, error) { return gitsource.Commit{Hash: c2}, nil }
	if _, err := c.Act("shop", ActRollback, "v2", "test"); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("rollback to an unverified commit: %v", err)
	}
}

func TestRollbackWithoutEarlierDeploy(t *testing.T) {
	src := &fakeSource{t: t, changed: func(string, string) ([]string, error) { return []string{".berth/other.yaml"}, nil }}
	c := actController(t, src, store.StackState{Stack: "shop", State: StateInSync, Applied: cB})
	for _, d := range []store.Deploy{
		{Stack: "shop", Commit: cA, Outcome: OutcomeSucceeded}, // same files
		{Stack: "shop", Commit: cB, Outcome: OutcomeSucceeded},
	} {
		if err := c.o.Store.AddDeploy(&d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Act("shop", ActRollback, "", "test"); err == nil || !strings.Contains(err.Error(), "no earlier good deploy") {
		t.Errorf("rollback with nothing to go to: %v", err)
	}
	// The lint policy judges every stack: a change to it is a change.
	src.changed = func(string, string) ([]string, error) { return []string{policyFile}, nil }
	if got, err := c.Act("shop", ActRollback, "", "test"); err != nil || got.Pinned != cA {
		t.Errorf("rollback past a policy change: %+v, %v", got.StackState, err)
	}
}

// sameState compares two states, their times as instants.
func sameState(a, b store.StackState) bool {
	if !a.Since.Equal(b.Since) || !a.Updated.Equal(b.Updated) || !a.RetryAt.Equal(b.RetryAt) {
		return false
	}
	a.Since, a.Updated, a.RetryAt = b.Since, b.Updated, b.RetryAt
	return a == b
}
