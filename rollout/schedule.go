package rollout

import (
	"context"
	"sync"

	"github.com/berth-gitops/berth/compose"
)

// maxServices is how many services roll at the same time.
const maxServices = 8

// rollServices rolls the named services, each once those of them it depends
// on (depends_on, or a reference to their containers) have passed, so that
// services that do not depend on each other roll at the same time: a first
// deploy of twenty services waits for the slowest gate of each dependency
// level, not for the sum of all gates. The first Failure (or error) stops
// the others: their batches in flight are put back.
func (r *runner) rollServices(ctx context.Context, names []string, byService map[string][]compose.Op) (*Failure, error) {
	if len(names) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	passed := make(map[string]chan struct{}, len(names))
	for _, name := range names {
		passed[name] = make(chan struct{})
	}
	var (
		mu     sync.Mutex
		first  *Failure
		firstE error
		wg     sync.WaitGroup
	)
	stop := func(f *Failure, err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil && firstE == nil && (f != nil || ctx.Err() == nil) {
			first, firstE = f, err
		}
		cancel()
	}
	slots := make(chan struct{}, maxServices)
	for _, name := range names {
		wg.Go(func() {
			for _, dep := range r.dependencies(name) {
				ch, ok := passed[dep]
				if !ok {
					continue // not rolled now: WaitDependencies checks its condition
				}
				select {
				case <-ch:
				case <-ctx.Done():
					return
				}
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-slots }()
			if ctx.Err() != nil {
				return
			}
			f, err := r.rollService(ctx, name, byService[name])
			if f != nil || err != nil {
				stop(f, err)
				return
			}
			close(passed[name])
		})
	}
	wg.Wait()
	if first == nil && firstE == nil && ctx.Err() != nil {
		// Cancelled from outside, before anything failed.
		return nil, context.Cause(ctx)
	}
	return first, firstE
}

// dependencies are the services a service waits for: its depends_on and the
// services whose containers it points at.
func (r *runner) dependencies(name string) []string {
	var out []string
	for dep := range r.p.Services[name].DependsOn {
		out = append(out, dep)
	}
	ds, _, err := r.x.Service(name)
	if err == nil {
		out = append(out, ds.Refs...)
	}
	return out
}
