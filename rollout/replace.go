package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/apply"
	"github.com/berth-gitops/berth/compose/observe"
	"github.com/berth-gitops/berth/rollout/failpoint"
)

// changeKind is what a change does to one container number.
type changeKind int

const (
	kindCreate  changeKind = iota // a container that is missing
	kindStart                     // a stopped container that is up to date
	kindReplace                   // an old container replaced by a new one
	kindRemove                    // an orphan or a replica scaled away
)

// strategyRun is a migration's: it runs once, to completion.
const strategyRun = "run"

// change is one container's part in a rollout, with what undoing it needs.
type change struct {
	kind     changeKind
	op       compose.Op
	service  string
	strategy string
	name     string // the canonical name
	// The old container, and where the rollout left it.
	oldID, oldName, oldState string
	renamed                  bool
	oldStopped               bool
	newID                    string
	w                        *watch
}

func (ch *change) label() string {
	if ch.name != "" {
		return ch.name
	}
	return ch.oldName
}

func (ch *change) oldRan() bool { return ch.oldState == "running" || ch.oldState == "restarting" }

// rollService rolls one service's operations out, batch by batch.
func (r *runner) rollService(ctx context.Context, name string, ops []compose.Op) (*Failure, error) {
	set := r.svc[name]
	ds, cfg, err := r.x.Service(name)
	if err != nil {
		return nil, err
	}
	strategy := Strategy(cfg, set)
	if set.Role == compose.RoleMigrate {
		strategy = strategyRun
	}
	var work, later []compose.Op
	for _, op := range ops {
		switch {
		case op.Kind != compose.OpRemove:
			work = append(work, op)
		case compose.IsAside(op.Container) || op.Number >= 1 && op.Number <= ds.Replicas:
			// What an interrupted rollout left: nothing to keep it for.
			r.step(Step{Service: name, Message: op.Describe()})
			if err := r.x.StopRemove(ctx, op.ContainerID); err != nil {
				return nil, &apply.OpError{Op: op, Err: err}
			}
			r.did(op.Describe())
		default:
			later = append(later, op)
		}
	}
	if len(work) > 0 {
		if err := r.x.WaitDependencies(ctx, name); err != nil {
			if ctx.Err() != nil || observe.Unreachable(err) {
				return nil, err
			}
			return &Failure{Service: name, Gate: GateDependency, Reason: err.Error()}, nil
		}
	}
	for i := 0; i < len(work); i += set.Parallelism {
		batch := work[i:min(i+set.Parallelism, len(work))]
		if f, err := r.rollBatch(ctx, ds, strategy, batch, i, len(work)); f != nil || err != nil {
			return f, err
		}
	}
	for _, op := range later {
		if err := r.retireRemoved(ctx, op); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// rollBatch starts a batch's new containers, holds them to their gates,
// and either retires the old ones or puts the batch back.
func (r *runner) rollBatch(ctx context.Context, ds compose.DesiredService, strategy string, batch []compose.Op, index, total int) (*Failure, error) {
	set := r.svc[ds.Name]
	var chs []*change
	for k, op := range batch {
		ch := r.newChange(ds, strategy, op)
		r.step(Step{Service: ds.Name, Strategy: strategy, Message: fmt.Sprintf("%s %d/%d: %s %s (%s)", ds.Name, index+k+1, total, strategy, ch.label(), op.Cause)})
		f, err := r.begin(ctx, ch, set)
		if f != nil || err != nil {
			r.undoBatch(ctx, chs)
			return f, err
		}
		chs = append(chs, ch)
	}
	failpoint.Inject(gateStep(strategy))
	step := Step{Service: ds.Name, Strategy: strategy, Gate: chs[0].w.g.kind}
	prefix := fmt.Sprintf("%s %s: %s", ds.Name, span(index, len(chs), total), strategy)
	waited, f, err := r.gateBatch(ctx, chs, step, prefix)
	if err == nil && f == nil {
		err = r.retire(ctx, chs, set)
	}
	if f != nil || err != nil {
		r.undoBatch(ctx, chs)
		return f, err
	}
	for _, ch := range chs {
		r.passed(ch)
		r.log.Info("rolled", "service", ds.Name, "container", ch.name, "op", string(ch.op.Kind), "strategy", strategy, "gate", step.Gate, "seconds", seconds(waited))
		r.did(fmt.Sprintf("%s: %s %s (%s) %s, %s after %.1fs", ds.Name, ch.op.Kind, ch.name, ch.op.Cause, strategy, step.Gate, seconds(waited)))
	}
	step.Waited, step.Message = waited.Round(100*time.Millisecond), fmt.Sprintf("%s, %s after %.1fs", prefix, step.Gate, seconds(waited))
	r.step(step)
	return nil, nil
}

// gateStep names the failpoint of a batch started and not yet gated: a
// migration running, or a service's new containers.
func gateStep(strategy string) string {
	if strategy == strategyRun {
		return "migrate"
	}
	return "gate"
}

// gateBatch waits for a batch's containers to pass their gates, reporting
// the wait, and returns how long it took or what failed.
func (r *runner) gateBatch(ctx context.Context, chs []*change, step Step, prefix string) (time.Duration, *Failure, error) {
	ws := make([]*watch, len(chs))
	for i, ch := range chs {
		ws[i] = ch.w
	}
	msg := fmt.Sprintf("%s, waiting for %s", prefix, step.Gate)
	step.Message = msg
	r.step(step)
	start := time.Now()
	w, why, err := r.waitGates(ctx, ws, func(waited time.Duration) {
		step.Waited, step.Message = waited.Round(time.Second), fmt.Sprintf("%s, %s", msg, waited.Round(time.Second))
		r.step(step)
	})
	if w == nil {
		return time.Since(start), nil, err
	}
	gate := w.g.kind
	if r.svc[step.Service].Role == compose.RoleMigrate {
		gate = GateMigrate
	}
	r.log.Warn("gate failed", "service", step.Service, "container", w.name, "strategy", step.Strategy, "gate", gate, "seconds", seconds(time.Since(start)), "reason", why)
	return 0, &Failure{Service: step.Service, Gate: gate, Reason: fmt.Sprintf("container %s %s", w.name, why),
		LogLines: r.x.LogLines(context.WithoutCancel(ctx), w.id), LogsCommand: apply.LogsCommand(w.name)}, nil
}

// span names a batch's place among a service's changes: "2/3", "1-2/3".
func span(index, n, total int) string {
	if n == 1 {
		return fmt.Sprintf("%d/%d", index+1, total)
	}
	return fmt.Sprintf("%d-%d/%d", index+1, index+n, total)
}

func (r *runner) newChange(ds compose.DesiredService, strategy string, op compose.Op) *change {
	ch := &change{op: op, service: ds.Name, strategy: strategy, name: compose.ContainerName(r.p.Name, ds, op.Number)}
	switch op.Kind {
	case compose.OpCreate:
		ch.kind = kindCreate
	case compose.OpStart:
		ch.kind = kindStart
		ch.oldID, ch.oldName, ch.oldState = op.ContainerID, op.Container, op.PrevState
	default:
		ch.kind = kindReplace
		ch.oldID, ch.oldName, ch.oldState = op.ContainerID, op.Container, op.PrevState
	}
	return ch
}

// begin starts a change's new container and puts it under its gate. The
// engine refusing to create or start it is a Failure (gate start): the
// commit asks for something this host cannot run. What begin did is undone
// when it fails.
func (r *runner) begin(ctx context.Context, ch *change, set compose.ServiceSettings) (*Failure, error) {
	if err := r.prepare(ctx, ch, set); err != nil {
		return r.refused(ctx, ch, err)
	}
	// Restarts count from before the start: one the engine makes while
	// the start call returns is already a failure.
	before, err := r.x.Inspect(ctx, ch.newID)
	if err != nil {
		r.undo(ctx, ch)
		return nil, err
	}
	if ch.strategy != strategyRun {
		failpoint.Inject("create") // created, the old one set aside, not started
	}
	if err := r.x.Start(ctx, ch.newID); err != nil {
		return r.refused(ctx, ch, &refusal{err})
	}
	// The stability window opens once the engine says the container
	// started, not before: on a busy host the start call alone can outlast
	// the window.
	started := time.Now()
	in, err := r.x.Inspect(ctx, ch.newID)
	if err != nil {
		r.undo(ctx, ch)
		return nil, err
	}
	ds, _, _ := r.x.Service(ch.service)
	ch.w = &watch{id: ch.newID, name: ch.name, started: started, restarts: before.RestartCount,
		g: gateFor(in, set, stability(set, r.o.Stability), ds.OneShot)}
	return nil, nil
}

// refusal is the engine refusing a container of the new state.
type refusal struct{ err error }

func (e *refusal) Error() string { return e.err.Error() }
func (e *refusal) Unwrap() error { return e.err }

// prepare makes the change's new container, short of starting it: a
// replacement sets the old one aside first, and stop-first stops it.
func (r *runner) prepare(ctx context.Context, ch *change, set compose.ServiceSettings) error {
	create := r.x.CreateContainer
	if set.Role == compose.RoleMigrate {
		create = r.x.CreateTask
	}
	switch ch.kind {
	case kindStart:
		ch.newID = ch.oldID
		return nil
	case kindCreate:
		id, err := create(ctx, ch.service, ch.op.Number, ch.name)
		if err != nil {
			return &refusal{err}
		}
		ch.newID = id
		return nil
	}
	if aside := compose.AsideName(ch.name, ch.oldID); ch.oldName != aside {
		if err := r.x.Rename(ctx, ch.oldID, aside); err != nil {
			return fmt.Errorf("service %q: set %s aside: %w", ch.service, ch.oldName, err)
		}
		ch.renamed = true
	}
	id, err := create(ctx, ch.service, ch.op.Number, ch.name)
	if err != nil {
		return &refusal{err}
	}
	ch.newID = id
	if ch.strategy != compose.StartFirst && ch.oldRan() {
		// stop-first, and a migration: the old one stops before the new
		// one starts.
		if err := r.x.Stop(ctx, ch.oldID); err != nil {
			return fmt.Errorf("service %q: stop %s: %w", ch.service, ch.oldName, err)
		}
		ch.oldStopped = true
	}
	return nil
}

// refused undoes a change that could not begin. The engine refusing the
// new container is a Failure; anything else is an error.
func (r *runner) refused(ctx context.Context, ch *change, err error) (*Failure, error) {
	var ref *refusal
	if !errors.As(err, &ref) || ctx.Err() != nil || observe.Unreachable(err) {
		// Not an answer about the container: the engine was not reached.
		r.undo(ctx, ch)
		return nil, err
	}
	f := &Failure{Service: ch.service, Gate: GateStart, Reason: fmt.Sprintf("container %s: %v", ch.name, ref.err)}
	if ch.newID != "" && ch.kind != kindCreate {
		// A created container that never started is removed below: no
		// command could show its lines.
		f.LogLines, f.LogsCommand = r.x.LogLines(context.WithoutCancel(ctx), ch.newID), apply.LogsCommand(ch.name)
	}
	r.undo(ctx, ch)
	if ch.kind == kindCreate && ch.newID != "" {
		// It never ran: nothing worth keeping.
		logIf(r.log, "remove a container that did not start", r.x.Remove(context.WithoutCancel(ctx), ch.newID))
	}
	return f, nil
}

func logIf(log *slog.Logger, what string, err error) {
	if err != nil {
		log.Error(what, "error", err)
	}
}

// retire takes the old containers of a batch that passed out of service:
// after the drain, with old and new side by side, each is stopped
// gracefully. It stays on its networks meanwhile: its service name resolves
// to it until it exits, but a server that handles SIGTERM closes its
// listener first, so new connections are refused and clients go on to the
// next address, while requests in flight and kept-alive connections finish.
// (Taking it off its networks first was measured worse: it cuts those
// connections without a FIN.) The old containers stay, stopped and renamed
// aside, until the rollout is over, so that it can still put them back.
func (r *runner) retire(ctx context.Context, chs []*change, set compose.ServiceSettings) error {
	var running []*change
	for _, ch := range chs {
		if ch.kind == kindReplace && !ch.oldStopped && ch.oldRan() {
			running = append(running, ch)
		}
	}
	if len(running) == 0 {
		return nil
	}
	failpoint.Inject("drain")
	if d := drain(set); d > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	for _, ch := range running {
		if err := r.x.Stop(ctx, ch.oldID); err != nil {
			return fmt.Errorf("service %q: stop %s: %w", ch.service, ch.oldName, err)
		}
		ch.oldStopped = true
	}
	failpoint.Inject("stop-old")
	return nil
}

// retireRemoved stops an orphan or a replica scaled away; it is removed when
// the rollout is over.
func (r *runner) retireRemoved(ctx context.Context, op compose.Op) error {
	ch := &change{kind: kindRemove, op: op, service: op.Service, oldID: op.ContainerID, oldName: op.Container, oldState: op.PrevState}
	r.step(Step{Service: op.Service, Message: op.Describe()})
	if err := r.x.Stop(ctx, op.ContainerID); err != nil {
		return &apply.OpError{Op: op, Err: err}
	}
	ch.oldStopped = true
	r.passed(ch)
	r.did(op.Describe())
	return nil
}

// undoBatch puts a batch back, newest first.
func (r *runner) undoBatch(ctx context.Context, chs []*change) {
	for i := len(chs) - 1; i >= 0; i-- {
		r.undo(ctx, chs[i])
	}
}

// undo puts one change back as well as it can: a replacement's new
// container goes and the old one gets its name back and runs again if it
// ran; a new container that has nothing to go back to is stopped and kept
// for its logs. It goes on through errors, logging them.
func (r *runner) undo(ctx context.Context, ch *change) {
	ctx = context.WithoutCancel(ctx)
	logErr := func(what string, err error) {
		if err != nil {
			r.log.Error("put back: "+what, "service", ch.service, "container", ch.label(), "error", err)
		}
	}
	switch ch.kind {
	case kindCreate:
		if ch.newID != "" {
			logErr("stop the new container", r.x.Stop(ctx, ch.newID))
		}
	case kindStart:
		logErr("stop the container again", r.x.Stop(ctx, ch.oldID))
	case kindRemove:
		if ch.oldStopped && ch.oldRan() {
			logErr("start the container again", r.x.Start(ctx, ch.oldID))
		}
	case kindReplace:
		// The new container only makes way at first, so that the old one
		// serves again as soon as it can; it is removed last.
		restart := ch.oldStopped && ch.oldRan()
		failed := ch.newID
		if failed != "" {
			if restart {
				logErr("kill the new container", r.x.Kill(ctx, failed))
			}
			if err := r.x.Rename(ctx, failed, compose.AsideName(ch.name, failed)); err != nil {
				logErr("remove the new container", r.x.Remove(ctx, failed))
				failed = ""
			}
			ch.newID = ""
		}
		if ch.renamed || ch.oldName != ch.name {
			logErr("give the old container its name back", r.x.Rename(ctx, ch.oldID, ch.name))
		}
		if restart {
			logErr("start the old container again", r.x.Start(ctx, ch.oldID))
		}
		if failed != "" {
			logErr("remove the new container", r.x.Remove(ctx, failed))
		}
	}
	r.log.Info("put back", "service", ch.service, "container", ch.label())
}
