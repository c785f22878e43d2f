package rollout

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
)

const bakeStack = `
services:
  web:
    image: nginx:1
  task:
    image: busybox:1
    restart: "no"
`

// TestBakeCheck: what the bake window counts against a container it found
// running (or, for a one-shot, already done).
func TestBakeCheck(t *testing.T) {
	base := baseline{service: "web", name: "shop-web-1", running: true, restarts: 1}
	for _, tc := range []struct {
		name string
		b    baseline
		in   container.InspectResponse
		err  error
		want string // "" passes
	}{
		{"steady", base, container.InspectResponse{State: &container.State{Running: true}, RestartCount: 1}, nil, ""},
		{"restarted", base, container.InspectResponse{State: &container.State{Running: true, ExitCode: 137}, RestartCount: 2}, nil,
			"container shop-web-1 restarted (last exit code 137)"},
		{"restarting", base, container.InspectResponse{State: &container.State{Restarting: true, ExitCode: 1}, RestartCount: 1}, nil, "restarted"},
		{"OOM", base, container.InspectResponse{State: &container.State{OOMKilled: true}, RestartCount: 1}, nil, "was OOM-killed"},
		{"exited", base, container.InspectResponse{State: &container.State{ExitCode: 3}, RestartCount: 1}, nil, "exited with code 3"},
		{"one-shot done", baseline{service: "task", name: "shop-task-1", running: true, oneShot: true},
			container.InspectResponse{State: &container.State{ExitCode: 0}}, nil, ""},
		{"one-shot failed", baseline{service: "task", name: "shop-task-1", running: true, oneShot: true},
			container.InspectResponse{State: &container.State{ExitCode: 1}}, nil, "exited with code 1"},
		{"was not running", baseline{service: "web", name: "shop-web-1"}, container.InspectResponse{State: &container.State{ExitCode: 1}}, nil, ""},
		{"unhealthy", base, container.InspectResponse{State: &container.State{Running: true,
			Health: &container.Health{Status: container.Unhealthy, Log: []*container.HealthcheckResult{{ExitCode: 7, Output: "secret=hunter2"}}}}, RestartCount: 1},
			nil, "is unhealthy: last check exited 7"},
		{"gone", base, container.InspectResponse{}, cerrdefs.ErrNotFound, "container shop-web-1 is gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &fakeEngine{inspect: func(string) (container.InspectResponse, error) { return tc.in, tc.err }}
			r := newTestRunner(t, e, loadProject(t, bakeStack))
			f, err := r.bakeCheck(context.Background(), "id1", tc.b)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "" && f != nil:
				t.Errorf("failed: %v", f)
			case tc.want != "" && (f == nil || !strings.Contains(f.Reason, tc.want) || f.Service != tc.b.service):
				t.Errorf("got %+v, want a failure of %s: %q", f, tc.b.service, tc.want)
			case f != nil && strings.Contains(f.Error(), "hunter2"):
				t.Errorf("a container's output reached the failure: %v", f)
			case f != nil && tc.err == nil && f.LogsCommand != "docker logs --tail 20 shop-web-1" && tc.b.service == "web":
				t.Errorf("logs command %q", f.LogsCommand)
			}
		})
	}
	e := &fakeEngine{inspect: func(string) (container.InspectResponse, error) {
		return container.InspectResponse{}, errors.New("engine refused")
	}}
	r := newTestRunner(t, e, loadProject(t, bakeStack))
	if f, err := r.bakeCheck(context.Background(), "id1", base); f != nil || err == nil {
		t.Errorf("an engine error: %v, %v; want the error, not a failure", f, err)
	}
}

// TestBakeWindow: a container that restarts within the window fails it at
// gate bake; a stack that stays up passes it, and the window is recorded.
func TestBakeWindow(t *testing.T) {
	old := bakeEvery
	bakeEvery = 10 * time.Millisecond
	t.Cleanup(func() { bakeEvery = old })
	list := func() []container.Summary {
		return []container.Summary{
			summary("w1", "shop-web-1", "web", "1", container.StateRunning),
			summary("o1", "shop-old-1", "old", "1", container.StateRunning), // an orphan: not watched
		}
	}
	var looks atomic.Int32
	restartAt := int32(3)
	e := &fakeEngine{list: list, inspect: func(id string) (container.InspectResponse, error) {
		if id != "w1" {
			t.Errorf("inspected %s, which the stack does not have", id)
		}
		n := 0
		if looks.Add(1) >= restartAt {
			n = 1
		}
		return container.InspectResponse{State: &container.State{Running: true}, RestartCount: n}, nil
	}}
	r := newTestRunner(t, e, loadProject(t, bakeStack))
	r.stack.Bake = 5 * time.Second
	var steps []Step
	r.o.Progress = func(s Step) { steps = append(steps, s) }
	f, err := r.verifyAndBake(context.Background())
	if err != nil || f == nil || f.Gate != GateBake || f.Service != "web" || !strings.Contains(f.Reason, "restarted") {
		t.Fatalf("a restart in the window: %+v", f)
	}
	if len(steps) == 0 || steps[0].Gate != GateBake {
		t.Errorf("steps %+v, want the bake reported", steps)
	}

	looks.Store(0)
	restartAt = 1 << 30
	r = newTestRunner(t, e, loadProject(t, bakeStack))
	r.stack.Bake = 100 * time.Millisecond
	if f, err := r.verifyAndBake(context.Background()); f != nil || err != nil {
		t.Fatalf("a steady stack failed the bake: %v %v", f, err)
	}
	if looks.Load() < 3 || !slices.Contains(r.res.Operations, "baked for 100ms") {
		t.Errorf("%d looks, operations %v: want the window watched and recorded", looks.Load(), r.res.Operations)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = newTestRunner(t, e, loadProject(t, bakeStack))
	r.stack.Bake = time.Hour
	if f, _ := r.verifyAndBake(ctx); f == nil || f.Gate != GateBake || !strings.Contains(f.Reason, "canceled") {
		t.Errorf("a bake cut short: %+v, want a bake failure", f)
	}
}

// TestBakeEngineUnreachable: the engine out of reach in the bake window is
// an error to retry, not a failure that would roll the stack back.
func TestBakeEngineUnreachable(t *testing.T) {
	cut := &net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED}
	e := &fakeEngine{
		list: func() []container.Summary {
			return []container.Summary{summary("w1", "shop-web-1", "web", "1", container.StateRunning)}
		},
		inspect: func(string) (container.InspectResponse, error) { return container.InspectResponse{}, cut },
	}
	r := newTestRunner(t, e, loadProject(t, bakeStack))
	r.stack.Bake = time.Hour
	f, err := r.verifyAndBake(context.Background())
	if f != nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("the engine cut off in the bake window: failure %+v, error %v; want the error alone", f, err)
	}
}

// TestStopServices: a first deploy that failed stops the running
// containers of its services only; one already gone is no error.
func TestStopServices(t *testing.T) {
	e := &fakeEngine{
		list: func() []container.Summary {
			return []container.Summary{
				summary("w1", "shop-web-1", "web", "1", container.StateRunning),
				summary("w2", "shop-web-2", "web", "2", container.StateExited),
				summary("d1", "shop-db-1", "db", "1", container.StateRestarting),
				summary("k1", "shop-cache-1", "cache", "1", container.StateRunning),
				summary("x1", "shop-web-1_replaced_abc123", "web", "1", container.StateRunning),
			}
		},
		stop: func(id string) error {
			if id == "d1" {
				return cerrdefs.ErrNotFound
			}
			return nil
		},
	}
	if err := StopServices(context.Background(), e, "shop", []string{"web", "db"}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(e.stopped)
	if !slices.Equal(e.stopped, []string{"d1", "w1"}) {
		t.Errorf("stopped %v, want the running web and the restarting db", e.stopped)
	}
	e.stop = func(string) error { return errors.New("engine refused") }
	err := StopServices(context.Background(), e, "shop", []string{"web"})
	if err == nil || !strings.Contains(err.Error(), "stop shop-web-1: engine refused") {
		t.Errorf("a stop the engine refused: %v", err)
	}
}
