package controller

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/robfig/cron/v3"

	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/gitsource/gittest"
)

// These tests drive whole cycles through a real Git repository and a real
// Docker client whose engine is not there: every decision up to the first
// engine call is berth's, and "engine unreachable" is a real condition a
// host meets (Docker restarting), which must retry and never stall.

const goodCompose = `services:
  web:
    image: nginx:1.27-alpine
    read_only: true
    restart: unless-stopped
    healthcheck:
      test: ["CMD", "true"]
    mem_limit: 64m
    logging:
      driver: local
`

// cycleEnv is a controller on a real clone, its remote and its store.
type cycleEnv struct {
	c      *Controller
	w      *gittest.Work
	db     *store.Store
	events []notify.Event
}

func newCycleEnv(t *testing.T, files map[string]string) *cycleEnv {
	t.Helper()
	w := gittest.NewRepo(t)
	for p, content := range files {
		w.Write(p, content)
	}
	w.Commit("first")
	w.Push()
	root := t.TempDir()
	repo, err := gitsource.Open(context.Background(), gitsource.Options{URL: "file://" + w.Remote, Dir: filepath.Join(root, "clone")})
	if err != nil {
		t.Fatal(err)
	}
	// No engine listens on this socket.
	engine, err := client.New(client.WithHost("unix://" + filepath.Join(root, "no-engine.sock")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	db, err := store.Open(filepath.Join(root, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &cycleEnv{w: w, db: db}
	c, err := New(Options{Source: repo, Engine: engine, Store: db, Schedule: cron.Every(time.Minute),
		Path: "stacks", Host: "web1", StacksDir: filepath.Join(root, "stacks"), RenderRoot: filepath.Join(root, "render"),
		SecretsDir: filepath.Join(root, "secrets"), Settle: -1, APIVersion: "1.41", Ref: "branch main",
		Notify: func(ev notify.Event) { e.events = append(e.events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	return e
}

func (e *cycleEnv) stackState(t *testing.T, name string) store.StackState {
	t.Helper()
	e.c.mu.Lock()
	s, ok := e.c.stacks[name]
	e.c.mu.Unlock()
	if !ok {
		t.Fatalf("stack %s unknown; stacks %v", name, e.c.sortedStacks())
	}
	return s.state()
}

func (c *Controller) sortedStacks() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for n := range c.stacks {
		names = append(names, n)
	}
	return names
}

// TestCycleSortsStacksByFault: in one cycle a good stack whose engine is
// away retries, a stack with broken YAML stalls (recorded, notified), a
// stack for another host is left alone, and status shows each.
func TestCycleSortsStacksByFault(t *testing.T) {
	e := newCycleEnv(t, map[string]string{
		"stacks/shop/compose.yaml":  goodCompose,
		"stacks/bad/compose.yaml":   "services:\n  web:\n    image: [\n",
		"stacks/other/compose.yaml": "x-berth:\n  hosts: [db*]\n" + goodCompose,
		"README.md":                 "not a stack\n",
	})
	wait := e.c.Once(context.Background())
	if wait <= 0 || wait > time.Minute+6*time.Second {
		t.Errorf("wait after a cycle %v, want the schedule's minute plus at most 10%%", wait)
	}
	head := e.w.Head()

	shop := e.stackState(t, "shop")
	if shop.State != StateRetrying || shop.Retry != "engine unreachable" || shop.Attempted != head || shop.Applied != "" {
		t.Errorf("shop: %+v, want retrying on the unreachable engine at %.7s", shop, head)
	}
	if shop.RetryAt.IsZero() {
		t.Error("shop: a retrying stack has no next try")
	}
	bad := e.stackState(t, "bad")
	if bad.State != StateStalled || bad.Attempted != head || !strings.Contains(bad.Error, "compose.yaml") {
		t.Errorf("bad: %+v, want stalled naming its file", bad)
	}
	if strings.Contains(bad.Error, e.c.o.StacksDir) {
		t.Errorf("bad: the error shows the data dir, not the repo's path: %s", bad.Error)
	}
	if st := e.stackState(t, "other"); st.State != "" {
		t.Errorf("other is for hosts db*, not web1: %+v", st)
	}

	h, err := e.db.History("bad", 10)
	if err != nil || len(h) != 1 || h[0].Outcome != OutcomeStalled || h[0].Commit != head {
		t.Errorf("bad's history %+v (%v), want one stall", h, err)
	}
	if h, _ := e.db.History("shop", 10); len(h) != 1 || h[0].Outcome != OutcomeFailed {
		t.Errorf("shop's history %+v, want the failed deploy", h)
	}
	kinds := map[string]notify.Kind{}
	for _, ev := range e.events {
		kinds[ev.Stack] = ev.Kind
		if ev.Host != "web1" || ev.Commit != head {
			t.Errorf("event %+v: wrong host or commit", ev)
		}
	}
	if kinds["bad"] != notify.Stalled || kinds["shop"] != notify.DeployFailed || len(kinds) != 2 {
		t.Errorf("events by stack %v, want bad stalled and shop failed", kinds)
	}

	status := e.c.Status()
	if status.Source.Head == nil || status.Source.Head.Hash != head || status.Source.Error != "" {
		t.Errorf("source status %+v, want head %.7s and no error", status.Source, head)
	}
	got := map[string]string{}
	for _, s := range status.Stacks {
		got[s.Stack] = s.State
	}
	if got["shop"] != StateRetrying || got["bad"] != StateStalled || len(got) != 2 {
		t.Errorf("status stacks %v, want shop retrying and bad stalled only", got)
	}
}

// TestStalledStackWaitsForNewFiles: a stalled stack is not loaded again for
// the same files (a commit elsewhere in the repo changes nothing), and is
// loaded again when its own files change.
func TestStalledStackWaitsForNewFiles(t *testing.T) {
	e := newCycleEnv(t, map[string]string{"stacks/bad/compose.yaml": "services:\n  web:\n    image: [\n"})
	ctx := context.Background()
	e.c.Once(ctx)
	first := e.w.Head()
	if st := e.stackState(t, "bad"); st.State != StateStalled {
		t.Fatalf("bad: %+v, want stalled", st)
	}

	e.w.Write("docs/notes.md", "elsewhere\n")
	e.w.Commit("docs")
	e.w.Push()
	e.c.Once(ctx)
	st := e.stackState(t, "bad")
	if st.State != StateStalled || st.Head != e.w.Head() {
		t.Fatalf("after an unrelated commit: %+v, want still stalled at the new head", st)
	}
	if h, _ := e.db.History("bad", 10); len(h) != 1 || h[0].Commit != first {
		t.Errorf("an unrelated commit was tried again: history %+v", h)
	}

	e.w.Write("stacks/bad/compose.yaml", "services:\n  web:\n    image: {}\n")
	e.w.Commit("still bad, other files")
	e.w.Push()
	e.c.Once(ctx)
	if h, _ := e.db.History("bad", 10); len(h) != 2 || h[0].Commit != e.w.Head() {
		t.Errorf("new files were not tried: history %+v", h)
	}
}

// TestFetchFailureKeepsLastCommit: when the remote is gone the source shows
// the error with a growing wait, and the stacks are still reconciled at the
// last commit fetched.
func TestFetchFailureKeepsLastCommit(t *testing.T) {
	e := newCycleEnv(t, map[string]string{"stacks/shop/compose.yaml": goodCompose})
	ctx := context.Background()
	e.c.Once(ctx)
	head := e.w.Head()
	before := e.stackState(t, "shop").Updated
	if err := removeAll(e.w.Remote); err != nil {
		t.Fatal(err)
	}
	w1 := e.c.Once(ctx)
	w2 := e.c.Once(ctx)
	if w1 != backoff(1) || w2 != backoff(2) {
		t.Errorf("waits after failed fetches %v, %v; want %v, %v", w1, w2, backoff(1), backoff(2))
	}
	status := e.c.Status()
	if status.Source.Failures != 2 || status.Source.Error == "" {
		t.Errorf("source status %+v, want 2 failures and the error", status.Source)
	}
	st := e.stackState(t, "shop")
	if st.Head != head || st.State != StateRetrying || !st.Updated.After(before) {
		t.Errorf("shop %+v, want still reconciled (retrying) at %.7s after the fetch failed", st, head)
	}
}

func removeAll(dir string) error { return os.RemoveAll(dir) }

// TestCycleMountsAndHostPolicy: a service's mount of a repo file points at
// a copy named by its content, outside the export; a mount of a host
// folder the host did not grant stalls the stack, naming service and field.
func TestCycleMountsAndHostPolicy(t *testing.T) {
	withMount := strings.Replace(goodCompose, "    read_only: true\n",
		"    read_only: true\n    volumes:\n      - ./site.conf:/etc/nginx/conf.d/site.conf:ro\n", 1)
	withHost := strings.Replace(goodCompose, "    read_only: true\n",
		"    read_only: true\n    volumes:\n      - /etc:/host-etc:ro\n", 1)
	e := newCycleEnv(t, map[string]string{
		"stacks/conf/compose.yaml": withMount,
		"stacks/conf/site.conf":    "server {}\n",
		"stacks/host/compose.yaml": withHost,
	})
	e.c.Once(context.Background())
	if st := e.stackState(t, "conf"); st.State != StateRetrying || st.Retry != "engine unreachable" {
		t.Errorf("conf: %+v, want retrying on the engine", st)
	}
	var copies []string
	filepath.WalkDir(filepath.Join(e.c.o.MountsDir, "conf"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			copies = append(copies, p)
		}
		return nil
	})
	if len(copies) != 1 {
		t.Fatalf("copies of conf's mounted files %v, want one", copies)
	}
	if data, err := os.ReadFile(copies[0]); err != nil || string(data) != "server {}\n" {
		t.Errorf("the copy %s holds %q (%v)", copies[0], data, err)
	}
	if strings.HasPrefix(copies[0], e.c.o.StacksDir) {
		t.Errorf("the copy %s is inside the exports", copies[0])
	}
	st := e.stackState(t, "host")
	if st.State != StateStalled || !strings.Contains(st.Error, "host policy refused") || !strings.Contains(st.Error, `service "web"`) {
		t.Errorf("host: %+v, want stalled by the host policy naming the service", st)
	}
}
