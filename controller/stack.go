package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/apply"
	"github.com/berth-gitops/berth/compose/load"
	"github.com/berth-gitops/berth/compose/observe"
	"github.com/berth-gitops/berth/controller/reconcile"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/rollout"
	"github.com/berth-gitops/berth/rollout/failpoint"
)

// The states of a stack.
const (
	StateInSync     = "in sync"
	StateDeploying  = "deploying"
	StateStalled    = "stalled"  // a person must fix the input
	StateRetrying   = "retrying" // a fault that may pass: tried again at RetryAt
	StateFailed     = "failed"
	StateDrifted    = "drifted"
	StateRemoved    = "removed"
	StateRolledBack = "rolled back"
	StateSuspended  = "suspended"
	StateWaiting    = "waiting for window" // a new commit waits for a deploy window
)

// The outcomes of a deploy in the history.
const (
	OutcomeSucceeded  = "succeeded"
	OutcomeFailed     = "failed"
	OutcomeStalled    = "stalled"
	OutcomeRemoved    = "removed"
	OutcomeDrift      = "drift corrected"
	OutcomeRolledBack = "rolled back"
	OutcomeSecrets    = "secrets changed"
)

// stack is one stack's reconcile state. Only the controller's loop calls
// its methods, one at a time; mu guards st for status readers.
type stack struct {
	c    *Controller
	name string
	root string // the stack's exports: one folder per tree of its files
	dir  string // the export of the commit last exported, loaded from there
	log  *slog.Logger

	mu sync.Mutex
	st store.StackState

	exported string  // the commit whose export dir is
	bad      error   // why the folder cannot be a stack (its name), from discovery
	loaded   *loaded // the applied commit, loaded
	// loading is closed when the load last left behind (it overran its
	// budget) ends; nil when none is left behind.
	loading chan struct{}
	drift   string // the drift last reported, so it is logged once
	// stalledSecrets is the host secrets' signature when the stack stalled:
	// a secret added since may be the fix.
	stalledSecrets string

	// Guarded by mu: a person's retry resets them from the HTTP server.
	failures int           // consecutive faults on the way to st.Attempted
	step     *rollout.Step // the rollout step in flight, for status

	// red knows the values of the stack's loads; see public.
	red *compose.Redactor
}

// loaded is a commit's stack, loaded and turned into its desired state.
type loaded struct {
	commit   string
	project  *types.Project
	desired  *compose.Desired
	settings compose.Settings
	warnings []string // lint warnings, kept with the deploy
	secrets  string   // the host secrets' signature when loaded
}

func (c *Controller) newStack(st store.StackState) *stack {
	red := &compose.Redactor{}
	return &stack{c: c, name: st.Stack, st: st, root: filepath.Join(c.o.StacksDir, st.Stack),
		log: red.Logger(c.log.With("stack", st.Stack)), red: red}
}

func (s *stack) state() store.StackState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// update changes the state under the lock and writes it to the store.
func (s *stack) update(f func(st *store.StackState)) {
	s.mu.Lock()
	before := s.st.State
	f(&s.st)
	s.st.Error = s.red.String(s.st.Error)
	if s.st.State != StateRetrying {
		s.st.Retry, s.st.RetryAt = "", time.Time{} // only a retrying stack waits
	}
	now := time.Now()
	if s.st.State != before || s.st.Since.IsZero() {
		s.st.Since = now
	}
	s.st.Updated = now
	// Written under the lock, so a person's action and the loop's update
	// reach the store in the order they happened.
	err := s.c.records().PutState(s.st)
	s.mu.Unlock()
	if err != nil {
		s.log.Error("record stack state", "error", err)
	}
}

// reconcile makes the stack equal to head (or to the commit it is pinned
// to): a new commit is deployed; the same commit costs one container list,
// and drift is put back. A commit that failed verification is not retried
// by itself, and a suspended stack is left alone.
func (s *stack) reconcile(ctx context.Context, head gitsource.Commit) {
	o := s.begin(head)
	defer s.finish(o)
	o.set(func(st *store.StackState) { st.Head = head.Hash })
	st := s.view(o)
	if st.Pinned != "" && st.Pinned != head.Hash && !st.Suspended {
		c, err := s.c.o.Source.Commit(st.Pinned)
		if err != nil {
			s.log.Error("read the pinned commit", "commit", gitsource.Short(st.Pinned), "error", err)
			return
		}
		o.head = c
	}
	next, actions := decide(st, s.look(ctx, st, o.head.Hash))
	s.adopt(o, st, next)
	for _, a := range actions {
		switch a {
		case actDeploy:
			s.deploy(ctx, o)
		case actCheckDrift:
			s.checkDrift(ctx, o)
		}
	}
}

// look is what decide needs to know about target, found out (a Git diff)
// only when the decision turns on it.
func (s *stack) look(ctx context.Context, st store.StackState, target string) event {
	ev := event{kind: evLook, target: target, now: time.Now()}
	if st.Suspended || target == st.Applied {
		return ev
	}
	if st.Override == "" && st.Pinned != target {
		open, next := compose.WindowOpen(s.windows(ctx, st.Applied), ev.now)
		ev.windowClosed, ev.windowOpens = !open, next
	}
	if st.Failed != "" {
		ev.sameAsFailed = s.sameFiles(st.Failed, target)
	}
	if st.State == StateStalled && !ev.sameAsFailed {
		ev.sameAsAttempted = s.sameFiles(st.Attempted, target)
		ev.secretsChanged = s.stalledSecrets != s.c.secrets
	}
	return ev
}

// windows are the deploy windows a new commit of the stack waits for: the
// host's and those of the stack's live commit (a commit cannot lift the
// windows it would deploy under). After a restart the live commit is
// loaded here, as the drift check would load it.
func (s *stack) windows(ctx context.Context, applied string) []compose.Window {
	ws := s.c.o.Windows
	if s.loaded == nil && applied != "" {
		if l, err := s.load(ctx, applied); err == nil {
			s.loaded = l
			s.c.watchRules(l)
		} else {
			s.log.Error("reload the applied commit for its deploy windows", "commit", gitsource.Short(applied), "error", s.public(err))
		}
	}
	if s.loaded != nil && len(s.loaded.settings.Windows) > 0 {
		ws = append(slices.Clone(ws), s.loaded.settings.Windows...)
	}
	return ws
}

// adopt records the fields a decision changed, and only those: a person's
// action may have changed the others since st was read.
func (s *stack) adopt(o *outcome, st, next store.StackState) {
	if st == next {
		return
	}
	o.set(func(cur *store.StackState) {
		cur.State, cur.Attempted, cur.Error = next.State, next.Attempted, next.Error
		cur.Retry, cur.RetryAt = next.Retry, next.RetryAt
		cur.WindowOpens = next.WindowOpens
		if next.Override == "" {
			cur.Override = ""
		}
	})
}

// sameFiles reports whether the stack's folder is the same at two commits.
func (s *stack) sameFiles(a, b string) bool {
	return a == b || s.unchanged(a, b)
}

// deploy moves the stack to commit head: a commit that does not touch the
// stack's folder is recorded without engine work.
func (s *stack) deploy(ctx context.Context, o *outcome) {
	st, head := s.view(o), o.head
	if st.Override != "" {
		o.by = st.Override
		o.set(func(st *store.StackState) { st.Override = "" })
		s.log.Info("deploying outside the deploy windows", "commit", head.Short(), "by", o.by)
	}
	if st.Applied != "" && s.loaded != nil && s.unchanged(st.Applied, head.Hash) {
		s.loaded.commit = head.Hash
		o.set(func(st *store.StackState) {
			st.State, st.Applied, st.Attempted, st.Good, st.Error = StateInSync, head.Hash, head.Hash, head.Hash, ""
			st.Failed, st.Halted = "", false
		})
		s.checkDrift(ctx, o)
		return
	}
	s.apply(ctx, o, func(ctx context.Context) (*loaded, error) { return s.load(ctx, head.Hash) }, OutcomeSucceeded)
}

// unchanged reports whether no path of the stack's folder, nor the lint
// policy that judges it, changed between two commits.
func (s *stack) unchanged(from, to string) bool {
	same, err := sameFolder(s.c.o.Source, s.c.stackPath(s.name)+"/", from, to)
	return err == nil && same
}

// exportFault marks an export's error: a commit whose files would reach
// outside the export stalls (see reconcile.Classify), while a Git read or
// a write into the data dir is retried.
func exportFault(err error) error {
	if u := (*gitsource.UnsafeTreeError)(nil); errors.As(err, &u) {
		return err
	}
	if errors.Is(err, gitsource.ErrTooLarge) {
		return reconcile.Stalling(err)
	}
	return reconcile.Retrying("export failed", err)
}

func (s *stack) exportHash(hash string) error {
	if s.exported == hash {
		return nil
	}
	e, err := s.c.o.Source.ExportTree(hash, s.c.stackPath(s.name), s.root)
	if err != nil {
		return fmt.Errorf("stack %s at %s: %w", s.name, gitsource.Short(hash), err)
	}
	s.dir, s.exported = e.Path, hash
	return nil
}

// renderDir holds the stack's decrypted files that containers mount.
func (s *stack) renderDir() string { return filepath.Join(s.c.o.RenderRoot, s.name) }

// load reads the stack at a commit. An error that is the stack's files'
// fault is marked to stall the stack, one of the host's disk or of Git to
// be retried (see reconcile.Classify).
func (s *stack) load(ctx context.Context, hash string) (*loaded, error) {
	if s.bad != nil {
		return nil, reconcile.Stalling(s.bad)
	}
	if err := s.exportHash(hash); err != nil {
		return nil, exportFault(err)
	}
	set, err := load.ReadSettings(s.dir, s.c.o.Env)
	if err != nil {
		return nil, reconcile.Stalling(err)
	}
	p, err := s.loadProject(ctx, load.LoadOptions{Dir: s.dir, Env: s.c.o.Env,
		SecretsDir: s.c.o.SecretsDir, AgeKeyFile: s.c.o.AgeKeyFile, RenderDir: s.renderDir(), HostPaths: s.hostPaths(),
		Redactor: s.red, Stack: s.name, SharedSecrets: s.c.o.SharedSecrets})
	if err != nil {
		return nil, err
	}
	warnings, refused, lintErr := s.review(hash, p)
	if refused != nil {
		return nil, refused
	}
	if lintErr != nil {
		return nil, lintErr
	}
	// Containers mount content-addressed copies, never the export itself.
	if err := s.copyMounts(ctx, p, hash); err != nil {
		return nil, err
	}
	d, err := compose.NewDesired(p)
	if err != nil {
		return nil, reconcile.Stalling(err)
	}
	return &loaded{commit: hash, project: p, desired: d, settings: set, warnings: warnings, secrets: s.c.secrets}, nil
}

// fault answers a commit that did not load: an input error stalls the
// stack until the next commit (or new host secrets), a fault that may pass
// is retried with backoff. The live stack stays as it is.
func (s *stack) fault(o *outcome, err error) {
	head, msg := o.head, s.public(err)
	st, n := s.view(o), s.nextFailure()
	next, actions := decide(st, event{kind: evFault, target: head.Hash, now: time.Now(), err: err, msg: msg, failures: n})
	s.adopt(o, st, next)
	o.err, o.msg, o.start = err, msg, time.Now()
	for _, a := range actions {
		switch a {
		case actStall:
			s.resetFailures()
			s.stalledSecrets = s.c.secrets
			s.log.Error("stack stalled: its files do not load; the live stack is unchanged", "commit", head.Short(), "error", msg)
			o.end, o.kind = endStalled, reconcile.Stall
		case actRetry:
			s.countFailure(n)
			// The first fault and then every 10th are logged and the first
			// notified: a disk that is full for an hour must not fill the log.
			if n == 1 || n%10 == 0 {
				s.log.Error("stack retrying: the live stack is unchanged", "commit", head.Short(), "reason", next.Retry,
					"error", msg, "failures", n, "retry_in", time.Until(next.RetryAt).Round(time.Second).String())
			}
			o.end, o.kind, o.retry, o.failures = endRetrying, reconcile.Retry, next.Retry, n
		}
	}
}

// nextFailure is the count of consecutive faults if one more happens.
func (s *stack) nextFailure() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failures + 1
}

func (s *stack) countFailure(n int) {
	s.mu.Lock()
	s.failures = n
	s.mu.Unlock()
}

func (s *stack) resetFailures() {
	s.mu.Lock()
	s.failures = 0
	s.mu.Unlock()
}

// relative shortens the data dir paths in a message to the repo's paths.
func (s *stack) relative(msg string) string {
	if s.dir == "" {
		return msg
	}
	return strings.ReplaceAll(msg, s.dir, s.c.stackPath(s.name))
}

// apply makes the live stack equal to the commit load reads, for purpose
// (OutcomeSucceeded, OutcomeDrift or OutcomeSecrets), through the deploy
// sequence berth apply runs too. A commit that does not load, or asks
// what this engine cannot do, is a fault on the way; a failed gate rolls
// the stack back to its last good commit.
func (s *stack) apply(ctx context.Context, o *outcome, load func(context.Context) (*loaded, error), purpose string) {
	if ctx.Err() != nil {
		return // stopping: start no rollout
	}
	o.start, o.purpose = time.Now(), purpose
	defer s.c.acting(s.project())()
	head := o.head
	var l *loaded
	dep, err := s.deployment(ctx, head.Hash, func(ctx context.Context) (*loaded, error) {
		var err error
		l, err = load(ctx)
		return l, err
	}, func(d rollout.Deployment) {
		s.recoverGood(ctx, o, l.project.Name)
		s.log.Info("deploying", "commit", head.Short(), "operations", len(d.Plan.Ops), "author", head.Author, "message", firstLine(head.Message))
		s.progress(o)
	})
	switch rollout.StageOf(err) {
	case rollout.StageLoad:
		if ctx.Err() != nil {
			return // stopping: the load was cut short, the files are not at fault
		}
		s.fault(o, err)
	case rollout.StageEngine, rollout.StageCheck:
		s.fault(o, reconcile.Stalling(err))
	case "":
		if dep.Failure != nil {
			s.rollBack(context.WithoutCancel(ctx), o, l, dep.Result)
		} else {
			s.succeeded(o, l, dep.Operations)
		}
	default:
		s.failed(o, dep.Operations, err)
	}
}

// deployment runs the deploy sequence (rollout.Deploy) for a commit load
// reads, publishing the rollout's steps for status. The load is cut short
// when the controller is asked to stop; the rollout in flight finishes
// even then, because cutting it short could leave a service without
// containers.
func (s *stack) deployment(ctx context.Context, commit string, load func(context.Context) (*loaded, error), starting func(rollout.Deployment)) (rollout.Deployment, error) {
	defer s.setStep(nil)
	return rollout.Deploy(context.WithoutCancel(ctx), rollout.Request{
		Load: func(context.Context) (*types.Project, error) {
			l, err := load(ctx)
			if err == nil && ctx.Err() != nil {
				err = ctx.Err() // stopping: start no rollout
			}
			if err != nil {
				return nil, err
			}
			return l.project, nil
		},
		Connect: func(context.Context) (rollout.Engine, string, error) {
			return s.c.o.Engine, s.c.o.APIVersion, nil
		},
		Options: func(*types.Project) rollout.Options {
			return rollout.Options{
				Logger:    s.log,
				Stability: s.c.o.Settle,
				Labels:    map[string]string{compose.LabelBerthCommit: commit},
				Progress:  func(st rollout.Step) { s.setStep(&st) },
			}
		},
		Starting:  starting,
		RenderDir: s.renderDir(),
	})
}

func (s *stack) setStep(st *rollout.Step) {
	if st != nil {
		st.Message = s.red.String(st.Message)
	}
	s.mu.Lock()
	s.step = st
	s.mu.Unlock()
}

// rollBack answers a failed verification: the stack goes back to its last
// good commit, the same way, and the failed commit is remembered so it is
// not retried by itself. With no good commit to go back to, the stack's
// services are stopped rather than left half started.
func (s *stack) rollBack(ctx context.Context, o *outcome, bad *loaded, res rollout.Result) {
	head, reason := o.head, s.public(res.Failure)
	st := s.view(o)
	if st.Good == head.Hash {
		// Putting the good commit itself back (drift, a secret) failed:
		// there is nothing older to go to, and stopping it would take down
		// what serves. Retry with backoff, as for the engine's errors.
		s.failed(o, res.Operations, res.Failure)
		return
	}
	o.end, o.kind, o.err, o.msg, o.ops = endFailed, reconcile.RollBack, res.Failure, reason, res.Operations
	if st.Good == "" {
		s.log.Error("deploy failed verification and there is no earlier good commit: stopping the stack", "commit", head.Short(), "error", reason)
		if err := rollout.StopServices(ctx, s.c.o.Engine, bad.project.Name, bad.project.ServiceNames()); err != nil {
			reason += "; stopping the stack failed too: " + err.Error()
			o.msg = reason
		}
		o.reason = reason + " (first deploy: the stack was stopped)"
		o.set(func(st *store.StackState) {
			st.State, st.Failed, st.Attempted, st.Error = StateFailed, head.Hash, head.Hash, o.reason
		})
		return
	}
	s.log.Error("deploy failed verification: rolling back to the last good commit", "commit", head.Short(), "good", gitsource.Short(st.Good), "error", reason)
	var good *loaded
	back, err := s.deployment(ctx, st.Good, func(ctx context.Context) (*loaded, error) {
		var err error
		good, err = s.load(ctx, st.Good)
		return good, err
	}, nil)
	if err == nil && back.Failure != nil {
		err = back.Failure
	}
	o.ops = append(o.ops, back.Operations...)
	if err != nil {
		msg := fmt.Sprintf("%s; the rollback to %s failed too: %v", reason, gitsource.Short(st.Good), err)
		s.log.Error("rollback failed: leaving the stack alone until a new commit or a person acts", "commit", head.Short(), "good", gitsource.Short(st.Good), "error", err)
		o.msg, o.reason = msg, fmt.Sprintf("%s; the rollback to %s failed too", reason, gitsource.Short(st.Good))
		o.set(func(st *store.StackState) {
			st.State, st.Failed, st.Halted, st.Attempted, st.Error = StateFailed, head.Hash, true, head.Hash, msg
		})
		return
	}
	s.loaded, s.drift = good, ""
	s.c.watchRules(good)
	s.log.Warn("rolled back", "commit", head.Short(), "to", gitsource.Short(st.Good), "seconds", fmt.Sprintf("%.1f", time.Since(o.start).Seconds()))
	o.end, o.back = endRolledBack, st.Good
	o.set(func(st *store.StackState) {
		st.State, st.Applied, st.Failed, st.Attempted, st.Error = StateRolledBack, st.Good, head.Hash, head.Hash, reason
	})
}

// succeeded settles a commit whose state is live, after ops (none when
// it was in sync already).
func (s *stack) succeeded(o *outcome, l *loaded, ops []string) {
	head, purpose := o.head, o.purpose
	s.mu.Lock()
	n := s.failures
	s.failures = 0
	s.mu.Unlock()
	if n > 0 {
		s.log.Info("stack recovered", "commit", head.Short(), "failures", n)
	}
	s.loaded, s.drift = l, ""
	failpoint.Inject("record") // the outcome is settled; finish writes it
	o.newCommit = s.view(o).Applied != head.Hash
	s.c.watchRules(l)
	o.end, o.ops, o.warnings, o.failures = endApplied, ops, l.warnings, n
	o.set(func(st *store.StackState) {
		st.State, st.Applied, st.Good, st.Error = StateInSync, head.Hash, head.Hash, ""
		if purpose == OutcomeSucceeded {
			// A new commit deployed: the failed one is behind it. Putting
			// the applied commit back (drift, a secret) clears nothing.
			st.Attempted, st.Failed, st.Halted = head.Hash, "", false
		}
		st.Project, st.PruneVolumes = l.project.Name, l.settings.PruneVolumes
	})
	if len(ops) == 0 && !(o.newCommit && purpose == OutcomeSucceeded) {
		s.log.Info("in sync", "commit", head.Short())
		return
	}
	s.log.Info("deployed", "commit", head.Short(), "operations", len(ops), "seconds", fmt.Sprintf("%.1f", time.Since(o.start).Seconds()))
}

// failed settles a deploy the engine refused or could not be reached for:
// the stack is retrying, with backoff.
func (s *stack) failed(o *outcome, ops []string, err error) {
	if f := (*rollout.Failure)(nil); errors.As(err, &f) {
		err = reconcile.Retrying("verification failed", err)
	} else {
		err = reconcile.Engine(err)
	}
	public := s.public(err)
	st, n := s.view(o), s.nextFailure()
	next, _ := decide(st, event{kind: evFault, target: o.head.Hash, now: time.Now(), err: err, msg: public, failures: n})
	s.countFailure(n)
	s.adopt(o, st, next)
	s.log.Error("deploy failed", "commit", o.head.Short(), "reason", next.Retry, "error", public, "failures", n,
		"retry_in", time.Until(next.RetryAt).Round(time.Second).String())
	o.end, o.kind, o.retry, o.err, o.msg, o.ops, o.failures = endFailed, reconcile.Retry, next.Retry, err, public, ops, n
}

// checkDrift compares the live containers with the applied commit: one
// container list call when nothing drifted.
func (s *stack) checkDrift(ctx context.Context, o *outcome) {
	st := s.view(o)
	if st.Applied == "" {
		return
	}
	purpose := OutcomeDrift
	if s.loaded != nil && s.loaded.secrets != s.c.secrets {
		s.log.Info("host secrets changed: loading the stack again")
		s.loaded, purpose = nil, OutcomeSecrets
	}
	if s.loaded == nil || s.loaded.commit != st.Applied {
		l, err := s.load(ctx, st.Applied)
		if err != nil {
			s.log.Error("reload the applied commit", "commit", gitsource.Short(st.Applied), "error", s.public(err))
			return
		}
		s.loaded = l
		s.c.watchRules(l)
	}
	drift, err := observe.Drift(ctx, s.c.o.Engine, s.loaded.desired)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("observe stack", "error", err)
		}
		return
	}
	if len(drift) == 0 {
		if st.State == StateDrifted {
			o.set(func(st *store.StackState) { st.State, st.Error = StateInSync, "" })
		}
		s.drift = ""
		return
	}
	summary := strings.Join(drift, "; ")
	if s.c.o.DriftWarn && purpose != OutcomeSecrets {
		if summary != s.drift {
			s.log.Warn("drift found; --drift warn leaves it", "drift", summary)
			s.drift = summary
		}
		o.set(func(st *store.StackState) { st.State, st.Error = StateDrifted, summary })
		return
	}
	if purpose == OutcomeSecrets {
		s.log.Info("host secrets changed: rolling the services that use them", "changes", summary)
	} else {
		s.log.Warn("drift found; putting the applied commit back", "drift", summary)
	}
	head, err := s.c.o.Source.Commit(st.Applied)
	if err != nil {
		head = gitsource.Commit{Hash: st.Applied}
	}
	o.head = head
	l := s.loaded
	s.apply(ctx, o, func(context.Context) (*loaded, error) { return l, nil }, purpose)
}

// remove takes a stack that left the repo, or this host, off the engine.
func (s *stack) remove(ctx context.Context, head gitsource.Commit) {
	o := s.begin(head)
	defer s.finish(o)
	st := s.state()
	ctx = context.WithoutCancel(ctx)
	project := st.Project
	if project == "" {
		project = s.name
	}
	s.log.Info("stack left the repo or this host: removing it", "commit", head.Short(), "project", project, "prune_volumes", st.PruneVolumes)
	defer s.c.acting(project)()
	r, err := apply.RemoveProject(ctx, s.c.o.Engine, project, st.PruneVolumes, s.log)
	for _, k := range r.Kept {
		s.log.Info("kept", "what", k)
	}
	if err != nil {
		s.log.Error("remove stack", "error", err)
		o.err, o.kind = err, reconcile.Retry
		o.set(func(st *store.StackState) { st.State, st.Error = StateFailed, err.Error() })
		return
	}
	o.end, o.ops = endRemoved, r.Removed
	o.set(func(st *store.StackState) {
		st.State, st.Applied, st.Attempted, st.Head, st.Error = StateRemoved, "", head.Hash, head.Hash, ""
	})
	for _, dir := range []string{s.root, s.mountsDir(), s.renderDir()} {
		if err := os.RemoveAll(dir); err != nil {
			s.log.Warn("remove stack files", "dir", dir, "error", err)
		}
	}
	s.exported, s.dir, s.loaded = "", "", nil
}
