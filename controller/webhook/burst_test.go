package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
)

// burstSource is a repository with no stacks that records when it is
// fetched: the controller's cycles, without Git. Any other call panics
// (the embedded interface is nil), so the test notices if a cycle does
// more than it expects.
type burstSource struct {
	controller.Source
	mu      sync.Mutex
	fetches []time.Time
}

func (s *burstSource) Fetch(context.Context) (gitsource.Commit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetches = append(s.fetches, time.Now())
	return gitsource.Commit{Hash: "0123456789abcdef0123456789abcdef01234567"}, nil
}

func (s *burstSource) VerifyCommit(string) error             { return nil }
func (s *burstSource) Dirs(string, string) ([]string, error) { return nil, nil }

// fetched returns how many fetches there were and when the last one was.
func (s *burstSource) fetched() (int, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.fetches) == 0 {
		return 0, time.Time{}
	}
	return len(s.fetches), s.fetches[len(s.fetches)-1]
}

// hourly polls once an hour: in a test, only triggers start cycles.
type hourly struct{}

func (hourly) Next(t time.Time) time.Time { return t.Add(time.Hour) }

// runController runs the real controller loop over src until the test ends.
func runController(t *testing.T, src controller.Source) *controller.Controller {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := controller.New(controller.Options{Source: src, Store: st, Schedule: hourly{},
		StacksDir: filepath.Join(t.TempDir(), "stacks")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		st.Close()
	})
	return ctl
}

// waitUntil polls cond every 5 ms for up to timeout.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBurst: 200 deliveries sent at once over HTTP, wired to the real
// controller as `berth run` wires them. Each is answered 202 and reaches
// the trigger once with its own ref and delivery; behind the controller's
// Trigger the burst comes down to a fetch at once and at most one more a
// second, and the last delivery is not lost: a fetch starts after it.
func TestBurst(t *testing.T) {
	src := &burstSource{}
	ctl := runController(t, src)
	waitUntil(t, "the first cycle", 10*time.Second, func() bool { n, _ := src.fetched(); return n == 1 })

	var mu sync.Mutex
	reasons := map[string]int{}
	var calls int
	var lastTrigger time.Time
	h := New(allOn(), func(reason string) {
		mu.Lock()
		reasons[reason]++
		calls++
		lastTrigger = time.Now()
		mu.Unlock()
		ctl.Trigger()
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	const n = 200
	start := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			hdr, b := signed(t, hosts[0], "refs/heads/main", fmt.Sprintf("burst-%d", i))
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hooks/github", bytes.NewReader(b))
			req.Header = hdr
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Fatalf("delivery %d: %d", i, c)
		}
	}
	// The trigger runs after the answer is written: wait for the last one.
	waitUntil(t, "a trigger per delivery", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return calls >= n })
	mu.Lock()
	for i := range n {
		want := fmt.Sprintf("github webhook: push to refs/heads/main (delivery burst-%d)", i)
		if reasons[want] != 1 {
			t.Fatalf("trigger called %d times with %q", reasons[want], want)
		}
	}
	if calls != n {
		t.Errorf("trigger called %d times for %d deliveries", calls, n)
	}
	last := lastTrigger
	mu.Unlock()

	waitUntil(t, "a fetch after the last delivery", 10*time.Second, func() bool { _, at := src.fetched(); return at.After(last) })
	count, at := src.fetched()
	took := at.Sub(start)
	// The first cycle ran before the burst; the burst's cycles are the rest.
	if most := 2 + int(took/time.Second); count-1 > most {
		t.Fatalf("%d deliveries made %d fetches in %v, want at most %d: one at once and at most one more a second",
			n, count-1, took.Round(time.Millisecond), most)
	}
	t.Logf("%d deliveries made %d fetches in %v", n, count-1, took.Round(time.Millisecond))
}
