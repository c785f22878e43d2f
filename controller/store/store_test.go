package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "berth.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func TestStateRoundTrip(t *testing.T) {
	s, path := openTemp(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, ok, err := s.State("web"); ok || err != nil {
		t.Fatalf("State of an unknown stack: ok %v, err %v", ok, err)
	}
	web := StackState{Stack: "web", Project: "web", State: "in sync", Applied: "a1", Attempted: "a1", Good: "a1", Head: "a1",
		Since: t0, Updated: t0.Add(time.Minute), PruneVolumes: true}
	db := StackState{Stack: "db", State: "stalled", Applied: "a0", Attempted: "b2", Error: `service "db": bad`, Since: t0, Updated: t0}
	for _, st := range []StackState{web, db} {
		if err := s.PutState(st); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := s.State("web")
	if err != nil || !ok || !reflect.DeepEqual(got, web) {
		t.Fatalf("State(web) = %+v, %v, %v; want %+v", got, ok, err, web)
	}
	web.State, web.Applied = "deploying", "c3"
	if err := s.PutState(web); err != nil {
		t.Fatal(err)
	}
	all, err := s.States()
	if err != nil || !reflect.DeepEqual(all, []StackState{db, web}) {
		t.Fatalf("States() = %+v, %v; want db then web", all, err)
	}
	if err := s.DeleteStack("web"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.State("web"); ok {
		t.Fatal("web still has a state after DeleteStack")
	}
	if err := s.PutState(StackState{}); err == nil {
		t.Fatal("PutState without a stack name succeeded")
	}
}

func TestHistory(t *testing.T) {
	s, _ := openTemp(t)
	var want []Deploy
	for i := range 5 {
		d := &Deploy{Stack: "web", Commit: fmt.Sprintf("c%d", i), Author: "ann", Message: "bump", Start: t0, End: t0.Add(time.Second),
			Outcome: "succeeded", Operations: []string{"recreate web-1 (image changed)"}}
		if err := s.AddDeploy(d); err != nil {
			t.Fatal(err)
		}
		if err := s.AddDeploy(&Deploy{Stack: "db", Commit: "x", Outcome: "failed", Error: "pull: denied"}); err != nil {
			t.Fatal(err)
		}
		want = append([]Deploy{*d}, want...)
	}
	if want[0].ID != 9 || want[4].ID != 1 {
		t.Fatalf("IDs %d..%d, want one sequence over both stacks, 1..9", want[4].ID, want[0].ID)
	}
	got, err := s.History("web", 0)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("History(web) =\n%+v, %v\nwant\n%+v", got, err, want)
	}
	got, _ = s.History("web", 2)
	if len(got) != 2 || got[0].Commit != "c4" || got[1].Commit != "c3" {
		t.Fatalf("History(web, 2) = %+v", got)
	}
	if got, err := s.History("nope", 10); err != nil || len(got) != 0 {
		t.Fatalf("History of an unknown stack = %+v, %v", got, err)
	}
	if err := s.DeleteStack("web"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.History("web", 0); len(got) != 5 {
		t.Fatalf("DeleteStack dropped the history: %d deploys left", len(got))
	}
}

func TestHistoryCap(t *testing.T) {
	s, _ := openTemp(t)
	for i := range MaxHistory + 25 {
		if err := s.AddDeploy(&Deploy{Stack: "web", Commit: fmt.Sprint(i), Outcome: "succeeded"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.History("web", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxHistory || got[0].Commit != fmt.Sprint(MaxHistory+24) || got[MaxHistory-1].Commit != "25" {
		t.Fatalf("%d deploys kept, newest %s, oldest %s; want %d from %d down to 25",
			len(got), got[0].Commit, got[len(got)-1].Commit, MaxHistory, MaxHistory+24)
	}
}

func TestReopen(t *testing.T) {
	s, path := openTemp(t)
	st := StackState{Stack: "web", State: "in sync", Applied: "a1", Since: t0, Updated: t0}
	if err := s.PutState(st); err != nil {
		t.Fatal(err)
	}
	if err := s.AddDeploy(&Deploy{Stack: "web", Commit: "a1", Outcome: "succeeded"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := ro.State("web"); !ok || err != nil || !reflect.DeepEqual(got, st) {
		t.Fatalf("read-only State(web) = %+v, %v, %v", got, ok, err)
	}
	if err := ro.PutState(st); err == nil {
		t.Fatal("PutState on a read-only store succeeded")
	}
	ro.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := &Deploy{Stack: "web", Commit: "b2", Outcome: "succeeded"}
	if err := s.AddDeploy(d); err != nil || d.ID != 2 {
		t.Fatalf("AddDeploy after reopen: ID %d, %v; want 2", d.ID, err)
	}
	if h, _ := s.History("web", 0); len(h) != 2 {
		t.Fatalf("history after reopen has %d deploys, want 2", len(h))
	}
}

func TestLocked(t *testing.T) {
	_, path := openTemp(t)
	want := "data dir " + filepath.Dir(path) + " is locked by another berth (is berth run already running?)"
	for name, open := range map[string]func(string) (*Store, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
		start := time.Now()
		s, err := open(path)
		if err == nil {
			s.Close()
			t.Fatalf("%s while open succeeded", name)
		}
		if err.Error() != want {
			t.Errorf("%s error = %q, want %q", name, err, want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s took %s to give up", name, d)
		}
	}
}

func TestOpenReadOnlyMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.db")
	if _, err := OpenReadOnly(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("OpenReadOnly of a missing file: %v", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("OpenReadOnly created the file")
	}
}

func TestConcurrent(t *testing.T) {
	s, _ := openTemp(t)
	var wg sync.WaitGroup
	for w := range 4 {
		stack := fmt.Sprintf("s%d", w)
		wg.Go(func() {
			for i := range 20 {
				if err := s.PutState(StackState{Stack: stack, State: "in sync", Applied: fmt.Sprint(i)}); err != nil {
					t.Error(err)
				}
				if err := s.AddDeploy(&Deploy{Stack: stack, Commit: fmt.Sprint(i)}); err != nil {
					t.Error(err)
				}
				if _, err := s.States(); err != nil {
					t.Error(err)
				}
				if _, err := s.History(stack, 5); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	states, _ := s.States()
	if len(states) != 4 {
		t.Fatalf("%d states, want 4", len(states))
	}
	for _, st := range states {
		if h, _ := s.History(st.Stack, 0); len(h) != 20 || st.Applied != "19" {
			t.Errorf("stack %s: %d deploys, applied %s", st.Stack, len(h), st.Applied)
		}
	}
}

func BenchmarkPutState(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st := StackState{Stack: "web", State: "in sync", Applied: strings.Repeat("a", 40), Since: t0, Updated: t0}
	for b.Loop() {
		if err := s.PutState(st); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDamaged: a state file cut short, emptied or overwritten is refused
// with an error naming the file and the way to recover, never a panic and
// never a silent fresh start.
func TestDamaged(t *testing.T) {
	damage := map[string]func(t *testing.T, path string){
		"empty":         func(t *testing.T, path string) { truncate(t, path, 0) },
		"cut in a page": func(t *testing.T, path string) { truncate(t, path, 100) },
		"cut short":     func(t *testing.T, path string) { truncate(t, path, 9000) },
		"cut at a page": func(t *testing.T, path string) { truncate(t, path, 4*4096) },
		"overwritten": func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			junk := make([]byte, fi.Size()-8192)
			for i := range junk {
				junk[i] = byte(i * 7)
			}
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(junk, 8192); err != nil { // every page after the two metas
				t.Fatal(err)
			}
		},
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "berth.db")
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 30 {
				stack := fmt.Sprintf("stack-%d", i)
				if err := s.PutState(StackState{Stack: stack, State: "in sync", Applied: "a1"}); err != nil {
					t.Fatal(err)
				}
				if err := s.AddDeploy(&Deploy{Stack: stack, Commit: "a1", Outcome: "succeeded"}); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			f(t, path)
			// A copy for berth status: bbolt may panic with the file
			// locked, and the lock stays until the process ends.
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			roPath := filepath.Join(t.TempDir(), "berth.db")
			if err := os.WriteFile(roPath, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			for p, open := range map[string]func(string) (*Store, error){path: Open, roPath: OpenReadOnly} {
				s, err := open(p)
				if err == nil {
					s.Close()
					t.Fatal("a damaged state file opened")
				}
				var d *DamagedError
				if !errors.As(err, &d) || d.Path != p || !strings.Contains(err.Error(), "mv "+p+" "+p+".damaged") {
					t.Fatalf("error %q, want a DamagedError naming %s and how to move it aside", err, p)
				}
			}
			// The documented recovery: the file moved aside, berth starts.
			if err := os.Rename(path, path+".damaged"); err != nil {
				t.Fatal(err)
			}
			s, err = Open(path)
			if err != nil {
				t.Fatalf("open after moving the damaged file aside: %v", err)
			}
			s.Close()
		})
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkOpenFull is the start of berth on a full state file: 50 stacks
// with MaxHistory deploys each, every page walked once by the damage check.
func BenchmarkOpenFull(b *testing.B) {
	path := filepath.Join(b.TempDir(), "berth.db")
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 50 {
		stack := fmt.Sprintf("stack-%02d", i)
		if err := s.PutState(StackState{Stack: stack, State: "in sync", Applied: strings.Repeat("a", 40)}); err != nil {
			b.Fatal(err)
		}
		for range MaxHistory {
			d := &Deploy{Stack: stack, Commit: strings.Repeat("b", 40), Outcome: "succeeded", Operations: []string{"recreate web: image changed"}}
			if err := s.AddDeploy(d); err != nil {
				b.Fatal(err)
			}
		}
	}
	s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
}
