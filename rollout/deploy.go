package rollout

import (
	"context"
	"errors"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/apply"
	"github.com/berth-gitops/berth/compose/convert"
	"github.com/berth-gitops/berth/compose/load"
)

// Request is one deploy of a stack, as `berth apply`, `berth plan` and the
// controller of `berth run` each ask for it: the caller says how its files
// load (and what it holds them to) and which engine they go to; Deploy
// runs the rest of the sequence the same way for all three.
type Request struct {
	// Load reads the stack and holds it to what the caller checks (lint,
	// policy). Its errors are the input's, or the caller's to sort.
	Load func(ctx context.Context) (*types.Project, error)
	// Connect gives the engine and the API version it speaks. It is called
	// after Load, so that a caller may connect while the files load.
	Connect func(ctx context.Context) (Engine, string, error)
	// Options gives the rollout's options for the loaded project; nil
	// means the defaults.
	Options func(p *types.Project) Options
	// PlanOnly stops once the plan is made: nothing is changed.
	PlanOnly bool
	// Starting hears of a rollout about to change the live stack, with
	// its plan; it is not called for a stack in sync.
	Starting func(d Deployment)
	// RenderDir holds the stack's decrypted files; once the stack
	// settled, those that no container of the project mounts are removed.
	// Empty: none are.
	RenderDir string
}

// Deployment is what a deploy did: the project, its desired state, the
// plan, and the rollout's operations and failed gate, if any.
type Deployment struct {
	Project *types.Project
	Desired *compose.Desired
	Plan    compose.Plan
	Result
}

// Stage is a step of the deploy sequence.
type Stage string

// The stages, in order. An error before StageRollOut changed nothing.
const (
	StageLoad    Stage = "load"    // Request.Load
	StageConnect Stage = "connect" // Request.Connect
	StageEngine  Stage = "engine"  // a field the engine's API version would ignore
	StageCheck   Stage = "check"   // the x-berth rollout settings
	StageObserve Stage = "observe" // observing the live project and planning
	StageRollOut Stage = "roll out"
)

// StageError is a deploy's error with the stage it failed at, so that
// each caller answers it its own way (an exit code, stall or retry).
type StageError struct {
	Stage Stage
	Err   error
}

func (e *StageError) Error() string { return e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// StageOf is the stage err failed at; "" when no deploy stage marked it.
func StageOf(err error) Stage {
	if se := (*StageError)(nil); errors.As(err, &se) {
		return se.Stage
	}
	return ""
}

// Deploy is the one deploy sequence: load (with the caller's lint and
// policy), check the engine's support and the rollout settings, observe
// the live project and plan, roll the plan out behind the health gates,
// and prune the decrypted files nothing mounts. A failed gate is no error:
// it is in the Deployment's Failure, with what was put back.
func Deploy(ctx context.Context, r Request) (Deployment, error) {
	p, err := r.Load(ctx)
	if err != nil {
		return Deployment{}, &StageError{StageLoad, err}
	}
	e, version, err := r.Connect(ctx)
	if err != nil {
		return Deployment{}, &StageError{StageConnect, err}
	}
	if err := convert.CheckEngineSupport(p, version); err != nil {
		return Deployment{}, &StageError{StageEngine, err}
	}
	if err := Check(p); err != nil {
		return Deployment{}, &StageError{StageCheck, err}
	}
	d, pl, err := apply.Diff(ctx, e, p)
	if err != nil {
		return Deployment{}, &StageError{StageObserve, err}
	}
	dep := Deployment{Project: p, Desired: d, Plan: pl}
	if r.PlanOnly {
		return dep, nil
	}
	var o Options
	if r.Options != nil {
		o = r.Options(p)
	}
	if o.Logger != nil {
		for _, w := range pl.Warnings {
			o.Logger.Warn(w)
		}
	}
	if !pl.InSync() {
		if r.Starting != nil {
			r.Starting(dep)
		}
		dep.Result, err = Run(ctx, e, p, d, pl, o)
		if err != nil {
			return dep, &StageError{StageRollOut, err}
		}
	}
	if dep.Failure == nil && r.RenderDir != "" {
		if err := load.PruneRendered(r.RenderDir, p); err != nil && o.Logger != nil {
			o.Logger.Warn("prune decrypted files no container mounts", "error", err)
		}
	}
	return dep, nil
}
