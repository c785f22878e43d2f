package controller

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
)

// TestNextJitter: the wait is the schedule's, plus up to 10% of it and at
// most 30 s, so hosts on one repo spread their fetches.
func TestNextJitter(t *testing.T) {
	for _, tc := range []struct {
		every, maxJitter time.Duration
	}{
		{time.Minute, 6 * time.Second},
		{time.Hour, 30 * time.Second}, // the cap
	} {
		c := &Controller{o: Options{Schedule: cron.Every(tc.every)}}
		var lo, hi time.Duration = 1 << 62, 0
		for range 200 {
			d := c.next()
			lo, hi = min(lo, d), max(hi, d)
		}
		// cron.Every rounds to whole seconds: the wait may be up to 1 s short.
		if lo < tc.every-time.Second || hi >= tc.every+tc.maxJitter {
			t.Errorf("every %v: waits in [%v, %v], want within [%v, %v)", tc.every, lo, hi, tc.every-time.Second, tc.every+tc.maxJitter)
		}
		if hi-lo < tc.maxJitter/4 {
			t.Errorf("every %v: waits in [%v, %v]: no jitter", tc.every, lo, hi)
		}
	}
}

func TestBackoffDoublesToCap(t *testing.T) {
	want := map[int]time.Duration{0: 2 * time.Second, 1: 2 * time.Second, 2: 4 * time.Second, 3: 8 * time.Second,
		8: 256 * time.Second, 9: 5 * time.Minute, 1000: 5 * time.Minute}
	for n, w := range want {
		if got := backoff(n); got != w {
			t.Errorf("backoff(%d) = %v, want %v", n, got, w)
		}
	}
}

// TestSecretsSig: the signature changes when a host secret, a stack's own
// secret or the age key changes, and not when nothing did. It reads no
// secret: the same size and time with other content is the same.
func TestSecretsSig(t *testing.T) {
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	key := filepath.Join(dir, "age.key")
	write := func(p, content string, at time.Time) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &Controller{o: Options{SecretsDir: secrets, AgeKeyFile: key}}
	empty := c.secretsSig()
	write(filepath.Join(secrets, "smtp"), "pass1", t0)
	write(filepath.Join(secrets, "shop", "db"), "pass1", t0)
	write(key, "AGE-SECRET-KEY-1", t0)
	base := c.secretsSig()
	if base == empty || c.secretsSig() != base {
		t.Fatalf("signature of the same files changed, or did not change when files came")
	}
	write(filepath.Join(secrets, "shop", "db"), "pass2", t0)
	if c.secretsSig() != base {
		t.Error("the signature read a secret's content")
	}
	steps := []struct {
		name string
		do   func()
	}{
		{"a stack's own secret changed", func() { write(filepath.Join(secrets, "shop", "db"), "pass2", t0.Add(time.Second)) }},
		{"a shared secret grew", func() { write(filepath.Join(secrets, "smtp"), "longer pass", t0) }},
		{"a stack secret came", func() { write(filepath.Join(secrets, "blog", "api"), "k", t0) }},
		{"the age key changed", func() { write(key, "AGE-SECRET-KEY-2", t0.Add(time.Hour)) }},
	}
	prev := base
	for _, s := range steps {
		s.do()
		got := c.secretsSig()
		if got == prev {
			t.Errorf("%s: signature unchanged", s.name)
		}
		prev = got
	}
}

// TestHeldStackIsNotRemoved: a stack that left the repo is removed (here
// the engine is away, so the removal fails and says so), but one a person
// suspended or pinned is kept.
func TestHeldStackIsNotRemoved(t *testing.T) {
	e := newCycleEnv(t, map[string]string{"stacks/keep/compose.yaml": goodCompose})
	for _, st := range []store.StackState{
		{Stack: "gone", State: StateInSync, Applied: cA, Project: "gone"},
		{Stack: "held", State: StateSuspended, Applied: cA, Suspended: true},
		{Stack: "pinned", State: StateRolledBack, Applied: cA, Pinned: cA},
	} {
		e.c.stacks[st.Stack] = e.c.newStack(st)
	}
	e.c.Once(context.Background())
	if st := e.stackState(t, "gone"); st.State != StateFailed || st.Error == "" || st.Applied != cA {
		t.Errorf("gone: %+v, want a failed removal that keeps what was applied", st)
	}
	if st := e.stackState(t, "held"); st.State != StateSuspended || st.Head != "" {
		t.Errorf("held: %+v, want left alone", st)
	}
	if st := e.stackState(t, "pinned"); st.State != StateRolledBack || st.Error != "" {
		t.Errorf("pinned: %+v, want left alone", st)
	}
}

// TestUntrustedHeadIsNotDeployed: a head that fails verification is shown
// in status with the refusal, and no stack is read at it.
func TestUntrustedHeadIsNotDeployed(t *testing.T) {
	head := gitsource.Commit{Hash: cB}
	src := &fakeSource{t: t,
		fetch:  func() (gitsource.Commit, error) { return head, nil },
		verify: func(string) error { return errors.New("no good signature") },
	}
	c := actController(t, src, store.StackState{Stack: "shop", State: StateInSync, Applied: cA})
	c.o.Schedule = cron.Every(time.Hour)
	if wait := c.Once(context.Background()); wait < 59*time.Minute {
		t.Errorf("wait %v after a refused commit, want the schedule's hour, not a backoff", wait)
	}
	st := c.Status()
	if st.Source.Head == nil || st.Source.Head.Hash != cB || !strings.Contains(st.Source.Error, "refused: no good signature") || st.Source.Failures != 1 {
		t.Errorf("source status %+v", st.Source)
	}
	if s, _, _ := c.o.Store.State("shop"); s.Head != "" || s.State != StateInSync {
		t.Errorf("shop was reconciled at a refused commit: %+v", s)
	}
}

func TestSortedNames(t *testing.T) {
	got := sortedNames(map[string]bool{"web": true, "api": true, "db": false}, []string{"zed", "web", "db"})
	want := []string{"api", "db", "web", "zed"}
	if len(got) != len(want) {
		t.Fatalf("sortedNames = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sortedNames = %v, want %v", got, want)
		}
	}
}

// TestStatusFromStoreAndListener: without a running controller the status
// is the store's, stacks in name order; the listener's Since stays while
// its state does not change.
func TestStatusFromStoreAndListener(t *testing.T) {
	c := actController(t, nil, store.StackState{Stack: "web", State: StateInSync})
	for _, name := range []string{"db", "api"} {
		if err := c.o.Store.PutState(store.StackState{Stack: name, State: StateFailed}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := StatusFromStore(c.o.Store)
	if err != nil {
		t.Fatal(err)
	}
	if st.Running || len(st.Stacks) != 3 || st.Stacks[0].Stack != "api" || st.Stacks[1].Stack != "db" || st.Stacks[2].Stack != "web" {
		t.Errorf("status from the store: %+v", st)
	}

	c.SetListener(":8080", errors.New("address already in use"))
	first := c.Status().Listener
	c.SetListener(":8080", errors.New("address already in use"))
	if l := c.Status().Listener; l.Listening || l.Error == "" || !l.Since.Equal(first.Since) {
		t.Errorf("listener after the same error: %+v, first %+v", l, first)
	}
	c.SetListener(":8080", nil)
	if l := c.Status().Listener; !l.Listening || l.Error != "" {
		t.Errorf("listener once bound: %+v", l)
	}
}
