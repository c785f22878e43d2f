package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose/load"
	"github.com/berth-gitops/berth/controller/reconcile"
)

// defaultLoadTimeout is a stack's load budget when Options leave it unset.
const defaultLoadTimeout = 30 * time.Second

// loadProject runs load.Load in a goroutine of its own, so that a load
// that does not end (a file that blocks, a graph too large to walk) holds
// back neither the other stacks nor a stop: when the budget passes or ctx
// ends, the loop moves on and the load is left behind, cancelled. The
// stack stalls: its files are what a person must fix. While a load left
// behind still runs, the stack is not loaded again.
func (s *stack) loadProject(ctx context.Context, o load.LoadOptions) (*types.Project, error) {
	budget := s.c.o.LoadTimeout
	if budget <= 0 {
		budget = defaultLoadTimeout
	}
	if s.loading != nil {
		select {
		case <-s.loading:
			s.loading = nil
		default:
			return nil, reconcile.Stalling(fmt.Errorf("an earlier load of the stack, which took longer than %s, is still running", budget))
		}
	}
	lctx, cancel := context.WithTimeout(ctx, budget)
	type result struct {
		p   *types.Project
		err error
	}
	done, finished := make(chan result, 1), make(chan struct{})
	go func() {
		defer close(finished)
		defer cancel()
		p, err := load.Load(lctx, o)
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		return r.p, r.err
	case <-lctx.Done():
	}
	select {
	case r := <-done: // it ended as the budget passed
		return r.p, r.err
	default:
	}
	s.loading = finished
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	s.log.Error("stack load took longer than its budget: leaving it behind", "budget", budget.String())
	return nil, reconcile.Stalling(fmt.Errorf("load took longer than %s: make the stack's files smaller or simpler (the host's load_timeout sets the budget)", budget))
}
