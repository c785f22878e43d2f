package rollout

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/apply"
)

// TestRollServicesStopsAtFirstError: when one service's rollout fails,
// the services that wait for it never start, and the error is the first
// one.
func TestRollServicesStopsAtFirstError(t *testing.T) {
	e := &fakeEngine{
		stop: func(string) error { return errors.New("engine refused") },
		list: func() []container.Summary {
			t.Error("web was rolled although db, which it waits for, failed")
			return nil
		},
	}
	r := newTestRunner(t, e, loadProject(t, orderStack))
	byService := map[string][]compose.Op{
		// What an interrupted rollout left of db: removed before db rolls.
		"db":  {{Kind: compose.OpRemove, Service: "db", Number: 1, Container: "shop-db-1_replaced_abc", ContainerID: "x1"}},
		"web": {{Kind: compose.OpCreate, Service: "web", Number: 1}},
	}
	f, err := r.rollServices(context.Background(), []string{"db", "web"}, byService)
	var oe *apply.OpError
	if f != nil || !errors.As(err, &oe) || oe.Op.Service != "db" {
		t.Errorf("got %v, %v; want db's error", f, err)
	}
	if !slices.Equal(e.stopped, []string{"x1"}) {
		t.Errorf("stopped %v", e.stopped)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if f, err := r.rollServices(ctx, []string{"cron"}, map[string][]compose.Op{"cron": {{Kind: compose.OpCreate, Service: "cron"}}}); f != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("a rollout cancelled from outside: %v, %v", f, err)
	}
	if f, err := r.rollServices(context.Background(), nil, nil); f != nil || err != nil {
		t.Errorf("nothing to roll: %v, %v", f, err)
	}
}

// TestDependencyNotMet: a service whose depends_on condition does not hold
// in time is a Failure at gate dependency, not an engine error: the
// commit's stack does not come up.
func TestDependencyNotMet(t *testing.T) {
	p := loadProject(t, `
services:
  db:
    image: postgres:16
    healthcheck: {test: ["CMD", "true"]}
  web:
    image: app:1
    depends_on:
      db: {condition: service_healthy}
`)
	e := &fakeEngine{list: func() []container.Summary { return nil }} // db has no container
	d, err := compose.NewDesired(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRunner(e, p, d, Options{DependencyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.rollServices(context.Background(), []string{"web"}, map[string][]compose.Op{"web": {{Kind: compose.OpCreate, Service: "web", Number: 1}}})
	if err != nil || f == nil || f.Service != "web" || f.Gate != GateDependency || !strings.Contains(f.Reason, "depends_on db (service_healthy)") {
		t.Errorf("got %+v, %v; want a dependency failure of web naming db", f, err)
	}
}

// TestExecProbe: an exec probe runs its command in the service's first
// running container; the exit code decides, and only the code is kept:
// what the command printed never reaches the failure.
func TestExecProbe(t *testing.T) {
	p := loadProject(t, `
x-berth:
  verify:
    - exec: {service: web, command: [check, --deep], retries: 1}
services:
  web:
    image: app:1
`)
	var created []string
	exit, stillRunning := 0, false
	e := &execEngine{fakeEngine: fakeEngine{list: func() []container.Summary {
		return []container.Summary{
			summary("w1", "shop-web-1", "web", "1", container.StateExited),
			summary("w2", "shop-web-2", "web", "2", container.StateRunning),
		}
	}}}
	e.create = func(id string, cmd []string) { created = append(created, id+" "+strings.Join(cmd, " ")) }
	e.result = func() client.ExecInspectResult {
		return client.ExecInspectResult{ExitCode: exit, Running: stillRunning}
	}
	ctx := context.Background()
	if f := Verify(ctx, e, p, Options{}); f != nil {
		t.Fatalf("exit 0 failed: %v", f)
	}
	if !slices.Equal(created, []string{"w2 check --deep"}) {
		t.Errorf("exec created %v, want the command in the running web-2", created)
	}
	exit = 3
	f := Verify(ctx, e, p, Options{})
	if f == nil || f.Service != "web" || !strings.HasSuffix(f.Reason, "exit code 3 (1 attempt(s))") || strings.Contains(f.Error(), "hunter2") {
		t.Errorf("exit 3: %+v", f)
	}
	exit, stillRunning = 0, true
	if f := Verify(ctx, e, p, Options{}); f == nil || !strings.Contains(f.Reason, "still running") {
		t.Errorf("a command still running: %+v", f)
	}
}

// execEngine answers an exec as the engine does: the command's output on
// the attached stream, then its result.
type execEngine struct {
	fakeEngine
	create func(id string, cmd []string)
	result func() client.ExecInspectResult
}

func (e *execEngine) ExecCreate(_ context.Context, id string, o client.ExecCreateOptions) (client.ExecCreateResult, error) {
	e.create(id, o.Cmd)
	return client.ExecCreateResult{ID: "exec1"}, nil
}

func (e *execEngine) ExecAttach(context.Context, string, client.ExecAttachOptions) (client.ExecAttachResult, error) {
	ours, theirs := net.Pipe()
	go func() {
		// One stdout frame: stream, three zero bytes, the length, the data.
		out := []byte("password=hunter2\n")
		frame := append([]byte{1, 0, 0, 0}, binary.BigEndian.AppendUint32(nil, uint32(len(out)))...)
		_, _ = theirs.Write(append(frame, out...))
		theirs.Close()
	}()
	return client.ExecAttachResult{HijackedResponse: client.NewHijackedResponse(ours, "")}, nil
}

func (e *execEngine) ExecInspect(context.Context, string, client.ExecInspectOptions) (client.ExecInspectResult, error) {
	return e.result(), nil
}
