package rollout

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose"
)

// fakeEngine answers the engine calls whose answers a rollout judges
// (which containers a project has, what state each is in) with what a
// test sets, and records the stops it asks for. It never stands in for
// what Docker does: the decisions under test are berth's, taken from these
// answers. A call a test did not set panics through the nil Engine.
type fakeEngine struct {
	Engine
	list    func() []container.Summary
	listErr error // the engine out of reach, for the list
	inspect func(id string) (container.InspectResponse, error)
	stop    func(id string) error

	mu      sync.Mutex
	stopped []string
}

var _ Engine = (*fakeEngine)(nil)

func (f *fakeEngine) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	if f.listErr != nil {
		return client.ContainerListResult{}, f.listErr
	}
	return client.ContainerListResult{Items: f.list()}, nil
}

func (f *fakeEngine) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	in, err := f.inspect(id)
	return client.ContainerInspectResult{Container: in}, err
}

func (f *fakeEngine) ContainerStop(_ context.Context, id string, _ client.ContainerStopOptions) (client.ContainerStopResult, error) {
	f.mu.Lock()
	f.stopped = append(f.stopped, id)
	f.mu.Unlock()
	return client.ContainerStopResult{}, f.stop(id)
}

// ContainerLogs fails: a Failure then counts no log lines.
func (f *fakeEngine) ContainerLogs(context.Context, string, client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	return nil, errors.New("no logs here")
}

// summary is a container of project shop as the engine lists it.
func summary(id, name, service, number string, state container.ContainerState) container.Summary {
	return container.Summary{ID: id, Names: []string{"/" + name}, State: state, Labels: map[string]string{
		compose.LabelProject: "shop", compose.LabelService: service, compose.LabelContainerNumber: number}}
}

// running is an inspect answer of a running container on network net.
func running(net, ip string) container.InspectResponse {
	return container.InspectResponse{State: &container.State{Running: true, Status: container.StateRunning},
		NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
			net: {IPAddress: netip.MustParseAddr(ip)}}}}
}

// newTestRunner is a runner for p on e, as Run makes it.
func newTestRunner(t *testing.T, e Engine, p *types.Project) *runner {
	t.Helper()
	d, err := compose.NewDesired(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRunner(e, p, d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
