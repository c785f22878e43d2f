package rollout

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/apply"
)

const orderStack = `
services:
  db:
    image: postgres:16
  migrate:
    image: app:1
    restart: "no"
    depends_on: [db]
    x-berth: {role: migrate}
  web:
    image: app:1
    depends_on: [db]
  sidecar:
    image: envoy:1
    network_mode: "service:web"
  cron:
    image: app:1
`

// TestOrderPutsMigrationsFirst: the migrations roll first with what they
// depend on; the rest follow, each in dependency order; a service without
// operations is not rolled.
func TestOrderPutsMigrationsFirst(t *testing.T) {
	r := newTestRunner(t, &fakeEngine{}, loadProject(t, orderStack))
	byService := map[string][]compose.Op{}
	for _, s := range []string{"db", "migrate", "web", "sidecar"} {
		byService[s] = []compose.Op{{Kind: compose.OpCreate, Service: s, Number: 1}}
	}
	migrations, rest := r.order(byService)
	if !slices.Equal(migrations, []string{"db", "migrate"}) {
		t.Errorf("migrations %v, want db then migrate", migrations)
	}
	if !slices.Equal(rest, []string{"web", "sidecar"}) {
		t.Errorf("the rest %v, want web then its sidecar, without cron", rest)
	}
	// compose-go adds the network's service to depends_on too.
	if deps := r.dependencies("sidecar"); len(deps) == 0 || slices.ContainsFunc(deps, func(d string) bool { return d != "web" }) {
		t.Errorf("sidecar waits for %v, want web (its network) only", deps)
	}
	if deps := r.dependencies("migrate"); !slices.Equal(deps, []string{"db"}) {
		t.Errorf("migrate waits for %v, want db", deps)
	}

	// Without a migration to run, db is an ordinary service.
	delete(byService, "migrate")
	migrations, rest = r.order(byService)
	if len(migrations) != 0 || !slices.Equal(rest, []string{"db", "web", "sidecar"}) {
		t.Errorf("without a migration: %v then %v", migrations, rest)
	}
}

// TestGroupSetsOrphansApart: the operations of a service that left the
// project are the orphans; pulls and project resources belong to none.
func TestGroupSetsOrphansApart(t *testing.T) {
	r := newTestRunner(t, &fakeEngine{}, loadProject(t, orderStack))
	byService, orphans := r.group(compose.Plan{Ops: []compose.Op{
		{Kind: compose.OpPull, Service: "web", Resource: "app:1"},
		{Kind: compose.OpCreateNetwork, Resource: "default"},
		{Kind: compose.OpCreate, Service: "web", Number: 1},
		{Kind: compose.OpCreate, Service: "web", Number: 2},
		{Kind: compose.OpRemove, Service: "old", Number: 1},
	}})
	if len(byService) != 1 || len(byService["web"]) != 2 || len(orphans) != 1 || orphans[0].Service != "old" {
		t.Errorf("by service %v, orphans %v", byService, orphans)
	}
}

// TestRunPullFailsFirst: a pull that fails stops the rollout before any
// container is touched, says so, and is an error to retry, not a Failure
// to roll back. The engine here is a real client with no engine behind it.
func TestRunPullFailsFirst(t *testing.T) {
	e, err := client.New(client.WithHost("unix://" + filepath.Join(t.TempDir(), "no-engine.sock")))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	p := loadProject(t, orderStack)
	d, err := compose.NewDesired(p)
	if err != nil {
		t.Fatal(err)
	}
	var steps []Step
	res, err := Run(context.Background(), e, p, d, compose.Plan{Ops: []compose.Op{
		{Kind: compose.OpPull, Service: "web", Resource: "app:2"},
		{Kind: compose.OpCreate, Service: "web", Number: 1},
	}}, Options{Progress: func(s Step) { steps = append(steps, s) }})
	if err == nil || !strings.Contains(err.Error(), `service "web"`) || !strings.HasSuffix(err.Error(), "(nothing was changed)") {
		t.Errorf("error %v, want the service and that nothing changed", err)
	}
	if res.Failure != nil || len(res.Operations) != 0 {
		t.Errorf("result %+v, want no failure and no operation", res)
	}
	if len(steps) != 1 || steps[0].Message != "pull app:2" {
		t.Errorf("steps %+v, want the pull reported", steps)
	}

	r := newTestRunner(t, e, p)
	err = r.createResources(context.Background(), compose.Plan{Ops: []compose.Op{{Kind: compose.OpCreateVolume, Resource: "data"}}})
	var oe *apply.OpError
	if !errors.As(err, &oe) || oe.Op.Kind != compose.OpCreateVolume {
		t.Errorf("a volume the engine did not create: %v, want an OpError naming it", err)
	}
}

func TestFailureText(t *testing.T) {
	for _, tc := range []struct {
		f    Failure
		want string
	}{
		{Failure{Gate: GateProbe, Reason: "GET http://web/: status 500"}, "probe gate failed: GET http://web/: status 500"},
		{Failure{Service: "web", Gate: GateHealthy, Reason: "container shop-web-1 unhealthy", LogLines: 3, LogsCommand: "docker logs --tail 20 shop-web-1"},
			`service "web": healthy gate failed: container shop-web-1 unhealthy; 3 log lines: docker logs --tail 20 shop-web-1`},
		{Failure{Service: "db", Gate: GateStart, Reason: "port taken", LogsCommand: "docker logs --tail 20 shop-db-1"},
			`service "db": start gate failed: port taken; no log lines (docker logs --tail 20 shop-db-1)`},
	} {
		if got := tc.f.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
	if span(0, 1, 3) != "1/3" || span(2, 2, 4) != "3-4/4" {
		t.Errorf("span: %q %q", span(0, 1, 3), span(2, 2, 4))
	}
}

// TestWaitGates: a batch passes when every container passed its gate, and
// fails at the first container that fails, naming it.
func TestWaitGates(t *testing.T) {
	old := pollEvery
	pollEvery = 5 * time.Millisecond
	t.Cleanup(func() { pollEvery = old })
	healthy := container.InspectResponse{State: &container.State{Running: true, Health: &container.Health{Status: container.Healthy}}}
	starting := container.InspectResponse{State: &container.State{Running: true, Health: &container.Health{Status: container.Starting}}}
	looks := map[string]int{}
	e := &fakeEngine{inspect: func(id string) (container.InspectResponse, error) {
		looks[id]++
		switch {
		case id == "bad" && looks[id] > 2:
			return container.InspectResponse{State: &container.State{ExitCode: 2}}, nil
		case id == "slow" && looks[id] < 4, id == "bad":
			return starting, nil
		}
		return healthy, nil
	}}
	r := newTestRunner(t, e, loadProject(t, orderStack))
	hg := gate{kind: GateHealthy, limit: time.Minute}
	ws := []*watch{{id: "fast", name: "shop-web-1", g: hg, started: time.Now()}, {id: "slow", name: "shop-web-2", g: hg, started: time.Now()}}
	w, why, err := r.waitGates(context.Background(), ws, func(time.Duration) {})
	if w != nil || err != nil || looks["fast"] != 1 || looks["slow"] != 4 {
		t.Errorf("a batch that passes: %v %q %v, looks %v", w, why, err, looks)
	}
	ws = []*watch{{id: "fast", name: "shop-web-1", g: hg, started: time.Now()}, {id: "bad", name: "shop-web-2", g: hg, started: time.Now()}}
	w, why, err = r.waitGates(context.Background(), ws, func(time.Duration) {})
	if w == nil || w.id != "bad" || why != "exited with code 2" || err != nil {
		t.Errorf("a batch with a container that exits: %+v %q %v", w, why, err)
	}
	e.inspect = func(string) (container.InspectResponse, error) {
		return container.InspectResponse{}, errors.New("engine refused")
	}
	ws = []*watch{{id: "fast", name: "shop-web-1", g: hg, started: time.Now()}}
	if _, _, err := r.waitGates(context.Background(), ws, func(time.Duration) {}); err == nil || !strings.Contains(err.Error(), "inspect shop-web-1") {
		t.Errorf("an inspect the engine refused: %v", err)
	}
}
