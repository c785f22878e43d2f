// Package rollout executes a plan behind health gates: images pulled first,
// migrations run to completion, services rolled in dependency order with a
// start-first or stop-first strategy, each batch held to its health gate,
// then the stack's verification probes and bake window. It reports a failed
// gate as a Failure, so the caller can roll the stack back; it never talks
// to Git.
package rollout

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/apply"
	"github.com/berth-gitops/berth/compose/observe"
	"github.com/berth-gitops/berth/rollout/failpoint"
)

// Engine is the Docker API a rollout drives: what applying a plan needs,
// and exec for the verification probes that run inside a container.
type Engine interface {
	apply.Engine
	Execer
}

// Execer runs a command in a container: only exec probes need it.
type Execer interface {
	ExecCreate(ctx context.Context, container string, options client.ExecCreateOptions) (client.ExecCreateResult, error)
	ExecAttach(ctx context.Context, execID string, options client.ExecAttachOptions) (client.ExecAttachResult, error)
	ExecInspect(ctx context.Context, execID string, options client.ExecInspectOptions) (client.ExecInspectResult, error)
}

var _ Engine = (*client.Client)(nil)

// DefaultStability is how long a container without a healthcheck must keep
// running, without a restart, to pass its gate.
const DefaultStability = 10 * time.Second

// Options tune a rollout.
type Options struct {
	Logger *slog.Logger
	// Labels are extra labels for every container created (dev.berth.*).
	Labels map[string]string
	// Progress is called for each step, for status ("web 1/2: start-first,
	// waiting for healthy, 4s").
	Progress func(Step)
	// Stability is how long a started container without a healthcheck must
	// keep running without a restart; zero means the default, 10 s, and a
	// negative value only checks that it runs right after the start. A
	// service's x-berth stability overrides it.
	Stability time.Duration
	// DependencyTimeout bounds the wait for a depends_on condition.
	DependencyTimeout time.Duration
	// RestoreAll, on a Failure or an error, puts back everything the
	// rollout replaced, not only the batch that failed: the replaced
	// containers are kept, stopped and renamed aside, until verification
	// and the bake window passed. berth apply sets it; a controller that
	// rolls back to its last good commit need not.
	RestoreAll bool
}

// Step is one step of a rollout in flight.
type Step struct {
	Service  string        `json:"service,omitempty"`
	Strategy string        `json:"strategy,omitempty"` // start-first, stop-first
	Gate     string        `json:"gate,omitempty"`     // healthy, stable, completed, probe, bake
	Waited   time.Duration `json:"waited,omitempty"`
	Message  string        `json:"message"`
}

// Result is what a rollout did.
type Result struct {
	// Operations describes each operation done, in order.
	Operations []string
	// Failure is set when a gate, a probe, a migration or the bake window
	// failed: the stack is not healthy at the new state and should be rolled
	// back. The services the rollout could undo by itself were put back.
	Failure *Failure
}

// Failure is a verification that did not pass.
type Failure struct {
	Service string `json:"service,omitempty"`
	Gate    string `json:"gate"` // healthy, stable, completed, start, dependency, probe, bake, migrate
	Reason  string `json:"reason"`
	// LogLines counts the last lines the failed container wrote (up to
	// apply.LogTailLines) and LogsCommand shows them on the host. Their
	// text is never kept: a container prints what it holds, secrets
	// included, and a Failure goes to status, history, notifications and
	// commit statuses.
	LogLines    int    `json:"log_lines,omitempty"`
	LogsCommand string `json:"logs_command,omitempty"`
	// unreached is the engine call a probe could not make: the engine was
	// out of reach, which says nothing of the new state.
	unreached error
}

func (f *Failure) Error() string {
	msg := f.Gate + " gate failed"
	if f.Service != "" {
		msg = fmt.Sprintf("service %q: %s", f.Service, msg)
	}
	msg += ": " + f.Reason
	if f.LogsCommand != "" {
		msg += apply.LogsHint(f.LogLines, f.LogsCommand)
	}
	return msg
}

// Run rolls the live project out to its desired state along the plan. An
// error is the engine's or the network's (retry later), or a bad x-berth
// setting (see Check); a failed gate is Result.Failure. A pull that fails
// returns an error before any container is touched.
func Run(ctx context.Context, e Engine, p *types.Project, d *compose.Desired, pl compose.Plan, o Options) (Result, error) {
	r, err := newRunner(e, p, d, o)
	if err != nil {
		return Result{}, err
	}
	err = r.run(ctx, pl)
	if r.res.Failure != nil || err != nil {
		r.cleanUp(context.WithoutCancel(ctx))
	}
	return r.res, err
}

// runner is one rollout.
type runner struct {
	e     Engine
	p     *types.Project
	d     *compose.Desired
	o     Options
	x     *apply.Executor
	log   *slog.Logger
	stack compose.Settings
	svc   map[string]compose.ServiceSettings
	// mu guards res, done and the calls to Progress: services that do not
	// depend on each other roll at the same time.
	mu  sync.Mutex
	res Result
	// done are the changes that passed, in order: what RestoreAll puts back
	// and what a rollout that passed finally removes.
	done []*change
}

func newRunner(e Engine, p *types.Project, d *compose.Desired, o Options) (*runner, error) {
	if err := Check(p); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Stability == 0:
		o.Stability = DefaultStability
	case o.Stability < 0:
		o.Stability = 0
	}
	r := &runner{e: e, p: p, d: d, o: o, log: o.Logger, svc: map[string]compose.ServiceSettings{}}
	r.stack, _ = compose.ReadStackSettings(p)
	for name, s := range p.Services {
		r.svc[name], _ = compose.ReadServiceSettings(s)
	}
	r.x = apply.NewExecutor(e, p, d, apply.ApplyOptions{Logger: o.Logger, Labels: o.Labels, DependencyTimeout: o.DependencyTimeout})
	return r, nil
}

func (r *runner) run(ctx context.Context, pl compose.Plan) error {
	pl, err := r.pull(ctx, pl)
	if err != nil {
		return err
	}
	if err := r.x.ResolveImages(ctx); err != nil {
		return err
	}
	if err := r.createResources(ctx, pl); err != nil {
		return err
	}
	byService, orphans := r.group(pl)
	migrations, rest := r.order(byService)
	if f, err := r.rollServices(ctx, migrations, byService); f != nil || err != nil {
		return r.failed(f, err)
	}
	// Orphans go once the migrations passed, before the services roll: one
	// of them may hold a port a renamed service now publishes.
	for _, op := range orphans {
		if err := r.retireRemoved(ctx, op); err != nil {
			return err
		}
	}
	if f, err := r.rollServices(ctx, rest, byService); f != nil || err != nil {
		return r.failed(f, err)
	}
	if f, err := r.verifyAndBake(ctx); f != nil || err != nil {
		return r.failed(f, err)
	}
	r.finish(ctx)
	return nil
}

// createResources creates the networks and volumes the plan lacks.
func (r *runner) createResources(ctx context.Context, pl compose.Plan) error {
	failpoint.Inject("network")
	for _, op := range pl.Ops {
		var err error
		switch op.Kind {
		case compose.OpCreateNetwork:
			err = r.x.CreateNetwork(ctx, op.Resource)
		case compose.OpCreateVolume:
			err = r.x.CreateVolume(ctx, op.Resource)
		default:
			continue
		}
		if err != nil {
			return &apply.OpError{Op: op, Err: err}
		}
		r.did(op.Describe())
	}
	return nil
}

// group sorts the container operations by service, and sets apart those of
// services no longer in the project.
func (r *runner) group(pl compose.Plan) (byService map[string][]compose.Op, orphans []compose.Op) {
	byService = map[string][]compose.Op{}
	for _, op := range pl.Ops {
		switch {
		case op.Service == "" || op.Kind == compose.OpPull:
		case !r.inProject(op.Service):
			orphans = append(orphans, op)
		default:
			byService[op.Service] = append(byService[op.Service], op)
		}
	}
	return byService, orphans
}

func (r *runner) inProject(service string) bool {
	_, ok := r.p.Services[service]
	return ok
}

// failed records a failure and returns the error to stop the rollout with.
func (r *runner) failed(f *Failure, err error) error {
	if f != nil {
		r.res.Failure = f
		r.log.Error("rollout failed", "service", f.Service, "gate", f.Gate, "reason", f.Reason)
		r.did(fmt.Sprintf("failed: %s", firstLine(f.Error())))
	}
	return err
}

// pull pulls every image the plan needs before anything is touched, and
// plans again when one was pulled: its ID may differ from what runs.
func (r *runner) pull(ctx context.Context, pl compose.Plan) (compose.Plan, error) {
	failpoint.Inject("pull")
	pulled := false
	for _, op := range pl.Ops {
		if op.Kind != compose.OpPull {
			continue
		}
		r.step(Step{Service: op.Service, Message: "pull " + op.Resource})
		start := time.Now()
		if err := r.x.Pull(ctx, op.Resource); err != nil {
			return pl, fmt.Errorf("service %q: %w (nothing was changed)", op.Service, err)
		}
		r.log.Info("pulled", "service", op.Service, "image", op.Resource, "seconds", seconds(time.Since(start)))
		r.did(op.Describe())
		pulled = true
	}
	if !pulled {
		return pl, nil
	}
	live, err := observe.Observe(ctx, r.e, r.d)
	if err != nil {
		return pl, err
	}
	return compose.BuildPlan(r.d, live)
}

// order splits the services that have operations into the migrations, with
// what they depend on, and the rest, each in dependency order.
func (r *runner) order(byService map[string][]compose.Op) (migrations, rest []string) {
	need := map[string]bool{}
	var mark func(string)
	mark = func(name string) {
		if need[name] || !r.inProject(name) {
			return
		}
		need[name] = true
		s := r.p.Services[name]
		for dep := range s.DependsOn {
			mark(dep)
		}
		for _, ds := range r.d.Services {
			if ds.Name == name {
				for _, ref := range ds.Refs {
					mark(ref)
				}
			}
		}
	}
	for name := range byService {
		if r.svc[name].Role == compose.RoleMigrate {
			mark(name)
		}
	}
	for _, ds := range r.d.Services {
		if _, ok := byService[ds.Name]; !ok {
			continue
		}
		if need[ds.Name] {
			migrations = append(migrations, ds.Name)
		} else {
			rest = append(rest, ds.Name)
		}
	}
	return migrations, rest
}

// finish removes the containers the rollout replaced, now that the new
// state passed (or, after a failure, when they are not to be put back). One
// that cannot be removed is only logged: it is set aside, and the next plan
// removes it.
func (r *runner) finish(ctx context.Context) {
	failpoint.Inject("remove-aside")
	for _, ch := range r.done {
		if ch.oldID == "" || ch.kind == kindStart {
			continue
		}
		if err := r.x.Remove(ctx, ch.oldID); err != nil {
			r.log.Warn("remove a replaced container", "service", ch.service, "container", ch.oldName, "error", err)
		}
	}
	r.done = nil
}

// cleanUp runs after a failure or an error: with RestoreAll everything the
// rollout changed is put back, newest first; without, the containers it
// replaced and kept aside are removed.
func (r *runner) cleanUp(ctx context.Context) {
	if !r.o.RestoreAll {
		r.finish(ctx)
		return
	}
	for i := len(r.done) - 1; i >= 0; i-- {
		ch := r.done[i]
		r.undo(ctx, ch)
		r.did(fmt.Sprintf("%s: put back %s", ch.service, ch.label()))
	}
	r.done = nil
}

// step reports a step to Progress.
func (r *runner) step(s Step) {
	if r.o.Progress != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.o.Progress(s)
	}
}

func (r *runner) did(op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Operations = append(r.res.Operations, op)
}

// passed records a change that passed its gate.
func (r *runner) passed(ch *change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, ch)
}

func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*10) / 10 }

func firstLine(s string) string {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
