package rollout

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-gitops/berth/compose"
)

// engineCut is what the client returns when the engine's socket refuses.
var engineCut = &net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED}

// TestRefusedEngineUnreachable: a create or start the engine did not
// answer is an error to retry; only an engine that answered with a refusal
// makes a Failure at gate start, which rolls the stack back.
func TestRefusedEngineUnreachable(t *testing.T) {
	e := &fakeEngine{stop: func(string) error { return engineCut }}
	r := newTestRunner(t, e, loadProject(t, bakeStack))
	ch := &change{kind: kindCreate, service: "web", name: "shop-web-1", newID: "n1"}
	f, err := r.refused(context.Background(), ch, &refusal{engineCut})
	if f != nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("start with the engine cut off: failure %+v, error %v; want the error alone", f, err)
	}

	ch = &change{kind: kindCreate, service: "web", name: "shop-web-1"}
	f, err = r.refused(context.Background(), ch, &refusal{errors.New("Error response from daemon: port is already allocated")})
	if err != nil || f == nil || f.Gate != GateStart {
		t.Fatalf("a start the engine refused: failure %+v, error %v; want a Failure at gate start", f, err)
	}
}

// TestDependencyEngineUnreachable: a depends_on wait the engine cut short
// is an error to retry, not a dependency that did not come up.
func TestDependencyEngineUnreachable(t *testing.T) {
	p := loadProject(t, `
services:
  db:
    image: postgres:16
  web:
    image: app:1
    depends_on:
      db: {condition: service_started}
`)
	e := &fakeEngine{listErr: engineCut}
	d, err := compose.NewDesired(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRunner(e, p, d, Options{DependencyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.rollServices(context.Background(), []string{"web"}, map[string][]compose.Op{"web": {{Kind: compose.OpCreate, Service: "web", Number: 1}}})
	if f != nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("depends_on with the engine cut off: failure %+v, error %v; want the error alone", f, err)
	}
}

// probeStack has an exec probe that would wait an hour between tries.
const probeStack = `
x-berth:
  verify:
    - exec: {service: web, command: [check], retries: 2, interval: 1h}
services:
  web:
    image: app:1
`

// TestProbeEngineUnreachable: an exec probe that cannot reach the engine
// is an error to retry, not a failed probe that would roll the stack back;
// a probe the engine answered still fails.
func TestProbeEngineUnreachable(t *testing.T) {
	r := newTestRunner(t, &fakeEngine{listErr: engineCut}, loadProject(t, probeStack))
	f, err := r.verifyAndBake(context.Background())
	if f != nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("an exec probe with the engine cut off: failure %+v, error %v; want the error alone", f, err)
	}

	r = newTestRunner(t, &fakeEngine{list: func() []container.Summary { return nil }}, loadProject(t, strings.Replace(probeStack, "retries: 2", "retries: 1", 1)))
	f, err = r.verifyAndBake(context.Background())
	if err != nil || f == nil || f.Gate != GateProbe {
		t.Fatalf("an exec probe with no container to run in: failure %+v, error %v; want a probe failure", f, err)
	}
}
