package controller

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/lint"
	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/policy"
	"github.com/berth-gitops/berth/controller/reconcile"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/rollout"
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
	err := s.c.o.Store.PutState(s.st)
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
	s.update(func(st *store.StackState) { st.Head = head.Hash })
	st := s.state()
	target := head
	if st.Pinned != "" && st.Pinned != head.Hash && !st.Suspended {
		c, err := s.c.o.Source.Commit(st.Pinned)
		if err != nil {
			s.log.Error("read the pinned commit", "commit", gitsource.Short(st.Pinned), "error", err)
			return
		}
		target = c
	}
	next, actions := decide(st, s.look(st, target.Hash))
	s.adopt(st, next)
	for _, a := range actions {
		switch a {
		case actDeploy:
			s.deploy(ctx, target)
		case actCheckDrift:
			s.checkDrift(ctx)
		}
	}
}

// look is what decide needs to know about target, found out (a Git diff)
// only when the decision turns on it.
func (s *stack) look(st store.StackState, target string) event {
	ev := event{kind: evLook, target: target, now: time.Now()}
	if st.Suspended || target == st.Applied {
		return ev
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

// adopt records the fields a decision changed, and only those: a person's
// action may have changed the others since st was read.
func (s *stack) adopt(st, next store.StackState) {
	if st == next {
		return
	}
	s.update(func(cur *store.StackState) {
		cur.State, cur.Attempted, cur.Error = next.State, next.Attempted, next.Error
		cur.Retry, cur.RetryAt = next.Retry, next.RetryAt
	})
}

// sameFiles reports whether the stack's folder is the same at two commits.
func (s *stack) sameFiles(a, b string) bool {
	return a == b || s.unchanged(a, b)
}

// deploy moves the stack to commit head: a commit that does not touch the
// stack's folder is recorded without engine work.
func (s *stack) deploy(ctx context.Context, head gitsource.Commit) {
	st := s.state()
	if st.Applied != "" && s.loaded != nil && s.unchanged(st.Applied, head.Hash) {
		s.loaded.commit = head.Hash
		s.update(func(st *store.StackState) {
			st.State, st.Applied, st.Attempted, st.Good, st.Error = StateInSync, head.Hash, head.Hash, head.Hash, ""
			st.Failed, st.Halted = "", false
		})
		s.checkDrift(ctx)
		return
	}
	l, err := s.load(ctx, head.Hash)
	if err != nil {
		if ctx.Err() != nil {
			return // stopping: the load was cut short, the files are not at fault
		}
		s.fault(head, err)
		return
	}
	s.apply(ctx, l, head, OutcomeSucceeded)
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

// pruneRendered drops the decrypted files the live containers no longer
// mount, once a deploy or rollback settled.
func (s *stack) pruneRendered() {
	if s.loaded == nil {
		return
	}
	if err := compose.PruneRendered(s.renderDir(), s.loaded.project); err != nil {
		s.log.Warn("prune decrypted files", "error", err)
	}
}

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
	set, err := compose.ReadSettings(s.dir, s.c.o.Env)
	if err != nil {
		return nil, reconcile.Stalling(err)
	}
	p, err := s.loadProject(ctx, compose.LoadOptions{Dir: s.dir, Env: s.c.o.Env,
		SecretsDir: s.c.o.SecretsDir, AgeKeyFile: s.c.o.AgeKeyFile, RenderDir: s.renderDir(), HostPaths: s.hostPaths(),
		Redactor: s.red, Stack: s.name, SharedSecrets: s.c.o.SharedSecrets})
	if err != nil {
		return nil, err
	}
	if err := s.checkPolicy(p); err != nil {
		return nil, err
	}
	if err := compose.CheckEngineSupport(p, s.c.o.APIVersion); err != nil {
		return nil, reconcile.Stalling(err)
	}
	if err := rollout.Check(p); err != nil {
		return nil, reconcile.Stalling(err)
	}
	warnings, err := s.lint(hash, p)
	if err != nil {
		return nil, err
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

// policyFile is the repo's lint policy, at its root.
const policyFile = ".berth/policy.yaml"

// lint holds a commit to the production checklist: an error stalls the
// stack like a file that does not load; warnings are kept with the deploy.
func (s *stack) lint(hash string, p *types.Project) ([]string, error) {
	pol := lint.Policy{}
	data, err := s.c.o.Source.ReadFile(hash, policyFile)
	switch {
	case err == nil:
		if pol, err = lint.ParsePolicyRules(data, policyFile, policy.Rules()); err != nil {
			return nil, reconcile.Stalling(err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, reconcile.Retrying("Git read failed", fmt.Errorf("read %s: %w", policyFile, err))
	}
	src, err := lint.ReadSources(s.dir, s.c.o.Env, s.c.stackPath(s.name))
	if err != nil {
		return nil, err
	}
	var errs, warnings []string
	for _, f := range lint.Active(s.c.o.Policy.Except(lint.Lint(p, src, pol))) {
		switch f.Severity {
		case lint.SeverityError:
			errs = append(errs, f.String())
		case lint.SeverityWarning:
			warnings = append(warnings, f.String())
		}
	}
	if len(errs) > 0 {
		return nil, reconcile.Stalling(fmt.Errorf("lint: %d error(s) (the host's berth.yaml policy.exceptions can accept one, with a reason):\n%s", len(errs), strings.Join(errs, "\n")))
	}
	return warnings, nil
}

// fault answers a commit that did not load: an input error stalls the
// stack until the next commit (or new host secrets), a fault that may pass
// is retried with backoff. The live stack stays as it is.
func (s *stack) fault(head gitsource.Commit, err error) {
	msg := s.public(err)
	st, n := s.state(), s.nextFailure()
	next, actions := decide(st, event{kind: evFault, target: head.Hash, now: time.Now(), err: err, msg: msg, failures: n})
	s.adopt(st, next)
	for _, a := range actions {
		switch a {
		case actStall:
			s.resetFailures()
			s.stalledSecrets = s.c.secrets
			s.log.Error("stack stalled: its files do not load; the live stack is unchanged", "commit", head.Short(), "error", msg)
			now := time.Now()
			s.record(&store.Deploy{Commit: head.Hash, Author: head.Author, Message: firstLine(head.Message), Start: now, End: now, Outcome: OutcomeStalled, Error: msg})
			s.notify(notify.Stalled, head, msg)
		case actRetry:
			s.countFailure(n)
			// The first fault and then every 10th are logged and the first
			// notified: a disk that is full for an hour must not fill the log.
			if n == 1 || n%10 == 0 {
				s.log.Error("stack retrying: the live stack is unchanged", "commit", head.Short(), "reason", next.Retry,
					"error", msg, "failures", n, "retry_in", time.Until(next.RetryAt).Round(time.Second).String())
			}
			if n == 1 {
				s.notify(notify.DeployFailed, head, "retrying: "+next.Retry+": "+msg)
			}
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

// apply plans a loaded commit and rolls it out behind the health gates. A
// failed gate rolls the stack back to its last good commit.
func (s *stack) apply(ctx context.Context, l *loaded, head gitsource.Commit, outcome string) {
	if ctx.Err() != nil {
		return // stopping: start no rollout
	}
	// The rollout in flight finishes even when the controller is asked to
	// stop: cutting it short could leave a service without containers.
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	_, pl, err := compose.Diff(ctx, s.c.o.Engine, l.project)
	if err != nil {
		s.failed(head, start, nil, err)
		return
	}
	for _, w := range pl.Warnings {
		s.log.Warn(w)
	}
	if pl.InSync() {
		s.succeeded(l, head, start, nil, outcome)
		return
	}
	s.log.Info("deploying", "commit", head.Short(), "operations", len(pl.Ops), "author", head.Author, "message", firstLine(head.Message))
	s.update(func(st *store.StackState) { st.State, st.Attempted, st.Error = StateDeploying, head.Hash, "" })
	if outcome == OutcomeSucceeded {
		s.notify(notify.DeployStarted, head, "")
	}
	res, err := s.rollout(ctx, l, pl, head.Hash)
	switch {
	case err != nil:
		s.failed(head, start, res.Operations, err)
	case res.Failure != nil:
		s.rollBack(ctx, l, head, start, res)
	default:
		s.succeeded(l, head, start, res.Operations, outcome)
	}
}

// rollout runs one plan, publishing its steps for status.
func (s *stack) rollout(ctx context.Context, l *loaded, pl compose.Plan, commit string) (rollout.Result, error) {
	defer s.setStep(nil)
	return rollout.Run(ctx, s.c.o.Engine, l.project, l.desired, pl, rollout.Options{
		Logger:    s.log,
		Stability: s.c.o.Settle,
		Labels:    map[string]string{compose.LabelBerthCommit: commit},
		Progress:  func(st rollout.Step) { s.setStep(&st) },
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
func (s *stack) rollBack(ctx context.Context, bad *loaded, head gitsource.Commit, start time.Time, res rollout.Result) {
	reason := s.public(res.Failure)
	ops := res.Operations
	st := s.state()
	d := &store.Deploy{Commit: head.Hash, Author: head.Author, Message: firstLine(head.Message), Start: start, Error: reason}
	defer func() {
		if d.Outcome != "" {
			d.End, d.Operations = time.Now(), ops
			s.record(d)
		}
	}()
	if st.Good == head.Hash {
		// Putting the good commit itself back (drift, a secret) failed:
		// there is nothing older to go to, and stopping it would take down
		// what serves. Retry with backoff, as for the engine's errors.
		d.Outcome = "" // failed records it
		s.failed(head, start, ops, res.Failure)
		return
	}
	if st.Good == "" {
		s.log.Error("deploy failed verification and there is no earlier good commit: stopping the stack", "commit", head.Short(), "error", reason)
		if err := rollout.StopServices(ctx, s.c.o.Engine, bad.project.Name, bad.project.ServiceNames()); err != nil {
			reason += "; stopping the stack failed too: " + err.Error()
		}
		d.Outcome = OutcomeFailed
		s.update(func(st *store.StackState) {
			st.State, st.Failed, st.Attempted, st.Error = StateFailed, head.Hash, head.Hash, reason+" (first deploy: the stack was stopped)"
		})
		s.notify(notify.DeployFailed, head, reason+" (first deploy: the stack was stopped)")
		return
	}
	s.log.Error("deploy failed verification: rolling back to the last good commit", "commit", head.Short(), "good", gitsource.Short(st.Good), "error", reason)
	good, err := s.load(ctx, st.Good)
	var back rollout.Result
	if err == nil {
		var pl compose.Plan
		if _, pl, err = compose.Diff(ctx, s.c.o.Engine, good.project); err == nil {
			back, err = s.rollout(ctx, good, pl, st.Good)
			if err == nil && back.Failure != nil {
				err = back.Failure
			}
		}
	}
	ops = append(ops, back.Operations...)
	if err != nil {
		msg := fmt.Sprintf("%s; the rollback to %s failed too: %v", reason, gitsource.Short(st.Good), err)
		s.log.Error("rollback failed: leaving the stack alone until a new commit or a person acts", "commit", head.Short(), "good", gitsource.Short(st.Good), "error", err)
		d.Outcome, d.Error = OutcomeFailed, msg
		s.update(func(st *store.StackState) {
			st.State, st.Failed, st.Halted, st.Attempted, st.Error = StateFailed, head.Hash, true, head.Hash, msg
		})
		s.notify(notify.DeployFailed, head, fmt.Sprintf("%s; the rollback to %s failed too", s.public(res.Failure), gitsource.Short(st.Good)))
		return
	}
	s.loaded, s.drift = good, ""
	s.pruneRendered()
	s.log.Warn("rolled back", "commit", head.Short(), "to", gitsource.Short(st.Good), "seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	d.Outcome = OutcomeRolledBack
	s.update(func(st *store.StackState) {
		st.State, st.Applied, st.Failed, st.Attempted, st.Error = StateRolledBack, st.Good, head.Hash, head.Hash, reason
	})
	s.collectExports()
	s.notify(notify.RolledBack, head, reason)
}

func (s *stack) succeeded(l *loaded, head gitsource.Commit, start time.Time, ops []string, outcome string) {
	s.mu.Lock()
	n := s.failures
	s.failures = 0
	s.mu.Unlock()
	if n > 0 {
		s.log.Info("stack recovered", "commit", head.Short(), "failures", n)
		s.notify(notify.Recovered, head, "")
	}
	s.loaded, s.drift = l, ""
	s.pruneRendered()
	s.update(func(st *store.StackState) {
		st.State, st.Applied, st.Good, st.Error = StateInSync, head.Hash, head.Hash, ""
		if outcome == OutcomeSucceeded {
			// A new commit deployed: the failed one is behind it. Putting
			// the applied commit back (drift, a secret) clears nothing.
			st.Attempted, st.Failed, st.Halted = head.Hash, "", false
		}
		st.Project, st.PruneVolumes = l.project.Name, l.settings.PruneVolumes
	})
	s.collectExports()
	if len(ops) == 0 {
		s.log.Info("in sync", "commit", head.Short())
		return
	}
	s.log.Info("deployed", "commit", head.Short(), "operations", len(ops), "seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	if outcome == OutcomeSucceeded {
		s.notify(notify.DeploySucceeded, head, "")
	}
	s.record(&store.Deploy{Commit: head.Hash, Author: head.Author, Message: firstLine(head.Message), Start: start, End: time.Now(), Outcome: outcome, Operations: ops, Warnings: l.warnings})
}

// failed records a deploy the engine refused or could not be reached for:
// the stack is retrying, with backoff.
func (s *stack) failed(head gitsource.Commit, start time.Time, ops []string, err error) {
	if f := (*rollout.Failure)(nil); errors.As(err, &f) {
		err = reconcile.Retrying("verification failed", err)
	} else {
		err = reconcile.Engine(err)
	}
	public := s.public(err)
	st, n := s.state(), s.nextFailure()
	next, _ := decide(st, event{kind: evFault, target: head.Hash, now: time.Now(), err: err, msg: public, failures: n})
	s.countFailure(n)
	s.adopt(st, next)
	s.log.Error("deploy failed", "commit", head.Short(), "reason", next.Retry, "error", public, "failures", n,
		"retry_in", time.Until(next.RetryAt).Round(time.Second).String())
	s.record(&store.Deploy{Commit: head.Hash, Author: head.Author, Message: firstLine(head.Message), Start: start, End: time.Now(), Outcome: OutcomeFailed, Error: public, Operations: ops})
	s.notify(notify.DeployFailed, head, public)
}

func (s *stack) record(d *store.Deploy) {
	d.Stack = s.name
	d.Error = s.red.String(d.Error)
	d.Operations, d.Warnings = s.red.Strings(d.Operations), s.red.Strings(d.Warnings)
	s.c.metrics.deploy(s.name, d.Outcome, d.End.Sub(d.Start))
	if err := s.c.o.Store.AddDeploy(d); err != nil {
		s.log.Error("record deploy", "error", err)
	}
}

// checkDrift compares the live containers with the applied commit: one
// container list call when nothing drifted.
func (s *stack) checkDrift(ctx context.Context) {
	st := s.state()
	if st.Applied == "" {
		return
	}
	outcome := OutcomeDrift
	if s.loaded != nil && s.loaded.secrets != s.c.secrets {
		s.log.Info("host secrets changed: loading the stack again")
		s.loaded, outcome = nil, OutcomeSecrets
	}
	if s.loaded == nil || s.loaded.commit != st.Applied {
		l, err := s.load(ctx, st.Applied)
		if err != nil {
			s.log.Error("reload the applied commit", "commit", gitsource.Short(st.Applied), "error", s.public(err))
			return
		}
		s.loaded = l
	}
	drift, err := compose.Drift(ctx, s.c.o.Engine, s.loaded.desired)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("observe stack", "error", err)
		}
		return
	}
	if len(drift) == 0 {
		if st.State == StateDrifted {
			s.update(func(st *store.StackState) { st.State, st.Error = StateInSync, "" })
		}
		s.drift = ""
		return
	}
	summary := strings.Join(drift, "; ")
	if s.c.o.DriftWarn && outcome != OutcomeSecrets {
		if summary != s.drift {
			s.log.Warn("drift found; --drift warn leaves it", "drift", summary)
			s.drift = summary
		}
		s.update(func(st *store.StackState) { st.State, st.Error = StateDrifted, summary })
		return
	}
	if outcome == OutcomeSecrets {
		s.log.Info("host secrets changed: rolling the services that use them", "changes", summary)
	} else {
		s.log.Warn("drift found; putting the applied commit back", "drift", summary)
	}
	head, err := s.c.o.Source.Commit(st.Applied)
	if err != nil {
		head = gitsource.Commit{Hash: st.Applied}
	}
	s.apply(ctx, s.loaded, head, outcome)
}

// remove takes a stack that left the repo, or this host, off the engine.
func (s *stack) remove(ctx context.Context, head gitsource.Commit) {
	st := s.state()
	ctx = context.WithoutCancel(ctx)
	project := st.Project
	if project == "" {
		project = s.name
	}
	start := time.Now()
	s.log.Info("stack left the repo or this host: removing it", "commit", head.Short(), "project", project, "prune_volumes", st.PruneVolumes)
	r, err := compose.RemoveProject(ctx, s.c.o.Engine, project, st.PruneVolumes, s.log)
	for _, k := range r.Kept {
		s.log.Info("kept", "what", k)
	}
	if err != nil {
		s.log.Error("remove stack", "error", err)
		s.update(func(st *store.StackState) { st.State, st.Error = StateFailed, err.Error() })
		return
	}
	s.update(func(st *store.StackState) {
		st.State, st.Applied, st.Attempted, st.Head, st.Error = StateRemoved, "", head.Hash, head.Hash, ""
	})
	s.record(&store.Deploy{Commit: head.Hash, Author: head.Author, Message: firstLine(head.Message), Start: start, End: time.Now(), Outcome: OutcomeRemoved, Operations: r.Removed})
	for _, dir := range []string{s.root, s.mountsDir(), s.renderDir()} {
		if err := os.RemoveAll(dir); err != nil {
			s.log.Warn("remove stack files", "dir", dir, "error", err)
		}
	}
	s.exported, s.dir, s.loaded = "", "", nil
}

// notify sends an event about commit c, when the controller has sinks.
func (s *stack) notify(kind notify.Kind, c gitsource.Commit, reason string) {
	if s.c.o.Notify == nil {
		return
	}
	s.c.o.Notify(notify.Event{Kind: kind, Host: s.c.o.Host, Stack: s.name, Commit: c.Hash, Author: c.Author,
		Message: firstLine(c.Message), Reason: s.red.String(reason), Time: time.Now(), URL: s.c.o.StatusURL})
}
