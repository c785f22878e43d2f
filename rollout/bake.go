package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/apply"
	"github.com/berth-gitops/berth/compose/observe"
)

// bakeEvery is how often the bake window looks at the stack.
var bakeEvery = time.Second

// verifyAndBake runs the verification probes, then keeps the bake window
// open. A probe that fails is a Failure at gate probe; anything that fails
// within the window is one at gate bake. The engine out of reach, for a
// probe or in the window, is an error: it says nothing of the new state.
func (r *runner) verifyAndBake(ctx context.Context) (*Failure, error) {
	if len(r.stack.Verify) > 0 {
		start := time.Now()
		if f := verify(ctx, r.e, r.p, r.stack.Verify, r.o.Progress); f != nil {
			if f.unreached != nil {
				return nil, f.unreached // says nothing of the new state
			}
			return f, nil
		}
		r.log.Info("verified", "probes", len(r.stack.Verify), "seconds", seconds(time.Since(start)))
		r.did(fmt.Sprintf("verified: %d probe(s)", len(r.stack.Verify)))
	}
	if r.stack.Bake <= 0 {
		return nil, nil
	}
	start := time.Now()
	f, err := r.bake(ctx, r.stack.Bake)
	if observe.Unreachable(err) {
		return nil, err // the engine away says nothing of the new state
	}
	if err != nil {
		f = &Failure{Gate: GateBake, Reason: err.Error()}
	}
	if f != nil {
		f.Gate = GateBake
		return f, nil
	}
	r.log.Info("baked", "gate", GateBake, "seconds", seconds(time.Since(start)))
	r.did(fmt.Sprintf("baked for %s", r.stack.Bake))
	return nil, nil
}

// baseline is a container as the bake window found it.
type baseline struct {
	service, name string
	running       bool
	restarts      int
	oneShot       bool
}

// bake watches the stack for the window: a container that stops, restarts
// or turns unhealthy, or a probe that fails, fails it.
func (r *runner) bake(ctx context.Context, window time.Duration) (*Failure, error) {
	base, err := r.baselines(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	tick := time.NewTicker(bakeEvery)
	defer tick.Stop()
	for {
		waited := time.Since(start)
		if waited >= window {
			return nil, nil
		}
		r.step(Step{Gate: GateBake, Waited: waited.Round(time.Second), Message: fmt.Sprintf("bake %s/%s", waited.Round(time.Second), window)})
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		for _, id := range sortedIDs(base) {
			if f, err := r.bakeCheck(ctx, id, base[id]); f != nil || err != nil {
				return f, err
			}
		}
		if f := verify(ctx, r.e, r.p, r.stack.Verify, nil); f != nil {
			return f, nil
		}
	}
}

func (r *runner) baselines(ctx context.Context) (map[string]baseline, error) {
	cs, err := projectContainers(ctx, r.e, r.p.Name)
	if err != nil {
		return nil, err
	}
	out := map[string]baseline{}
	for _, c := range cs {
		ds, _, err := r.x.Service(c.Labels[compose.LabelService])
		if err != nil {
			continue // an orphan the rollout removes
		}
		in, err := r.x.Inspect(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		out[c.ID] = baseline{service: ds.Name, name: containerName(c), running: in.State != nil && in.State.Running,
			restarts: in.RestartCount, oneShot: ds.OneShot}
	}
	return out, nil
}

func (r *runner) bakeCheck(ctx context.Context, id string, b baseline) (*Failure, error) {
	in, err := r.x.Inspect(ctx, id)
	if cerrdefs.IsNotFound(err) {
		return &Failure{Service: b.service, Reason: fmt.Sprintf("container %s is gone", b.name)}, nil
	}
	if err != nil {
		return nil, err
	}
	fail := func(why string) (*Failure, error) {
		return &Failure{Service: b.service, Reason: fmt.Sprintf("container %s %s", b.name, why),
			LogLines: r.x.LogLines(ctx, id), LogsCommand: apply.LogsCommand(b.name)}, nil
	}
	st := in.State
	switch {
	case st == nil:
		return nil, nil
	case in.RestartCount > b.restarts || st.Restarting:
		return fail(fmt.Sprintf("restarted (last exit code %d)", st.ExitCode))
	case st.OOMKilled:
		return fail("was OOM-killed")
	case b.running && !st.Running && !(b.oneShot && st.ExitCode == 0):
		return fail(fmt.Sprintf("exited with code %d", st.ExitCode))
	case st.Health != nil && st.Health.Status == container.Unhealthy:
		return fail("is unhealthy" + lastHealthOutput(st.Health))
	}
	return nil, nil
}

func sortedIDs(m map[string]baseline) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		if m[a].name < m[b].name {
			return -1
		}
		if m[a].name > m[b].name {
			return 1
		}
		return 0
	})
	return ids
}

// StopServices stops the containers of the named services (a first deploy
// that failed: nothing to roll back to, so nothing is left half started).
// The containers are kept, with their logs.
func StopServices(ctx context.Context, e Engine, project string, services []string) error {
	cs, err := projectContainers(ctx, e, project)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		if !slices.Contains(services, c.Labels[compose.LabelService]) || c.State != container.StateRunning && c.State != container.StateRestarting {
			continue
		}
		if _, err := e.ContainerStop(ctx, c.ID, client.ContainerStopOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("stop %s: %w", containerName(c), err))
		}
	}
	return errors.Join(errs...)
}
