package controller

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
)

// The states of a stack.
const (
	StateInSync    = "in sync"
	StateDeploying = "deploying"
	StateStalled   = "stalled"
	StateFailed    = "failed"
	StateDrifted   = "drifted"
	StateRemoved   = "removed"
)

// The outcomes of a deploy in the history.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeStalled   = "stalled"
	OutcomeRemoved   = "removed"
	OutcomeDrift     = "drift corrected"
)

// stack is one stack's reconcile state. Only the controller's loop calls
// its methods, one at a time; mu guards st for status readers.
type stack struct {
	c    *Controller
	name string
	dir  string // where the stack's files are written for loading
	log  *slog.Logger

	mu sync.Mutex
	st store.StackState

	exported string  // the commit whose files are in dir
	loaded   *loaded // the applied commit, loaded
	failures int     // consecutive failed deploys of st.Attempted
	retryAt  time.Time
	drift    string // the drift last reported, so it is logged once
}

// loaded is a commit's stack, loaded and turned into its desired state.
type loaded struct {
	commit   string
	project  *types.Project
	desired  *compose.Desired
	settings compose.Settings
}

func (c *Controller) newStack(st store.StackState) *stack {
	return &stack{c: c, name: st.Stack, st: st, dir: filepath.Join(c.o.StacksDir, st.Stack), log: c.log.With("stack", st.Stack)}
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
	now := time.Now()
	if s.st.State != before || s.st.Since.IsZero() {
		s.st.Since = now
	}
	s.st.Updated = now
	st := s.st
	s.mu.Unlock()
	if err := s.c.o.Store.PutState(st); err != nil {
		s.log.Error("record stack state", "error", err)
	}
}

// reconcile makes the stack equal to head: a new commit is deployed; the
// same commit costs one container list, and drift is put back.
func (s *stack) reconcile(ctx context.Context, head gitsource.Commit) {
	st := s.state()
	s.update(func(st *store.StackState) { st.Head = head.Hash })
	switch {
	case head.Hash == st.Applied:
	case st.State == StateStalled && head.Hash == st.Attempted:
		// A person must fix the files; the next commit is tried.
	case st.State == StateFailed && head.Hash == st.Attempted && time.Now().Before(s.retryAt):
		return
	default:
		s.deploy(ctx, head)
		return
	}
	s.checkDrift(ctx)
}

// deploy moves the stack to commit head: a commit that does not touch the
// stack's folder is recorded without engine work.
func (s *stack) deploy(ctx context.Context, head gitsource.Commit) {
	st := s.state()
	if st.Applied != "" && s.loaded != nil && s.unchanged(st.Applied, head.Hash) {
		s.loaded.commit = head.Hash
		s.update(func(st *store.StackState) {
			st.State, st.Applied, st.Attempted, st.Good, st.Error = StateInSync, head.Hash, head.Hash, head.Hash, ""
		})
		s.checkDrift(ctx)
		return
	}
	l, err := s.load(ctx, head.Hash)
	if err != nil {
		if ctx.Err() != nil {
			return // stopping: the load was cut short, the files are not at fault
		}
		s.stall(head, err)
		return
	}
	s.apply(ctx, l, head, OutcomeSucceeded)
}

// unchanged reports whether no path of the stack's folder changed between
// two commits.
func (s *stack) unchanged(from, to string) bool {
	paths, err := s.c.o.Source.Changed(from, to)
	if err != nil {
		return false
	}
	prefix := s.c.stackPath(s.name) + "/"
	for _, p := range paths {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	return true
}

// export writes the stack's files at commit into its folder.
func (s *stack) export(c gitsource.Commit) error {
	return s.exportHash(c.Hash)
}

func (s *stack) exportHash(hash string) error {
	if s.exported == hash {
		return nil
	}
	if err := s.c.o.Source.Export(hash, s.c.stackPath(s.name), s.dir); err != nil {
		return fmt.Errorf("stack %s at %s: %w", s.name, short(hash), err)
	}
	s.exported = hash
	return nil
}

func (s *stack) hasComposeFile() bool {
	_, err := compose.ConfigFiles(s.dir, "")
	return err == nil
}

// load reads the stack at a commit. Its errors are the stack's files' fault:
// they stall the stack.
func (s *stack) load(ctx context.Context, hash string) (*loaded, error) {
	if err := s.exportHash(hash); err != nil {
		return nil, err
	}
	set, err := compose.ReadSettings(s.dir, s.c.o.Env)
	if err != nil {
		return nil, err
	}
	p, err := compose.Load(ctx, compose.LoadOptions{Dir: s.dir, Env: s.c.o.Env})
	if err != nil {
		return nil, err
	}
	if err := compose.CheckEngineSupport(p, s.c.o.APIVersion); err != nil {
		return nil, err
	}
	d, err := compose.NewDesired(p)
	if err != nil {
		return nil, err
	}
	return &loaded{commit: hash, project: p, desired: d, settings: set}, nil
}

// stall records a commit whose files do not load: the live stack stays as
// it is until the next commit.
func (s *stack) stall(head gitsource.Commit, err error) {
	msg := s.relative(err.Error())
	s.log.Error("stack stalled: its files do not load; the live stack is unchanged", "commit", head.Short(), "error", msg)
	s.update(func(st *store.StackState) {
		st.State, st.Attempted, st.Error = StateStalled, head.Hash, msg
	})
	now := time.Now()
	s.record(&store.Deploy{Commit: head.Hash, Author: head.Author, Message: firstLine(head.Message), Start: now, End: now, Outcome: OutcomeStalled, Error: msg})
}

// relative shortens the data dir paths in a message to the repo's paths.
func (s *stack) relative(msg string) string {
	return strings.ReplaceAll(msg, s.dir, s.c.stackPath(s.name))
}

// apply plans and applies a loaded commit.
func (s *stack) apply(ctx context.Context, l *loaded, head gitsource.Commit, outcome string) {
	// The operation in flight finishes even when the controller is asked to
	// stop: cutting an apply short could leave a service without containers.
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
		s.succeeded(l, head, start, nil, "")
		return
	}
	s.log.Info("deploying", "commit", head.Short(), "operations", len(pl.Ops), "author", head.Author, "message", firstLine(head.Message))
	s.update(func(st *store.StackState) { st.State, st.Attempted, st.Error = StateDeploying, head.Hash, "" })
	var ops []string
	err = compose.Apply(ctx, s.c.o.Engine, l.project, l.desired, pl, compose.ApplyOptions{
		Logger: s.log,
		Settle: s.c.o.Settle,
		Labels: map[string]string{compose.LabelBerthCommit: head.Hash},
		Progress: func(op compose.Op) {
			ops = append(ops, op.Describe())
			s.log.Info(op.Describe(), "op", string(op.Kind), "service", op.Service)
		},
	})
	if err != nil {
		s.failed(head, start, ops, err)
		return
	}
	s.succeeded(l, head, start, ops, outcome)
}

func (s *stack) succeeded(l *loaded, head gitsource.Commit, start time.Time, ops []string, outcome string) {
	if s.failures > 0 {
		s.log.Info("stack recovered", "commit", head.Short(), "failures", s.failures)
	}
	s.loaded, s.failures, s.drift = l, 0, ""
	s.update(func(st *store.StackState) {
		st.State, st.Applied, st.Attempted, st.Good, st.Error = StateInSync, head.Hash, head.Hash, head.Hash, ""
		st.Project, st.PruneVolumes = l.project.Name, l.settings.PruneVolumes
	})
	if len(ops) == 0 {
		s.log.Info("in sync", "commit", head.Short())
		return
	}
	s.log.Info("deployed", "commit", head.Short(), "operations", len(ops), "seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	s.record(&store.Deploy{Commit: head.Hash, Author: head.Author, Message: firstLine(head.Message), Start: start, End: time.Now(), Outcome: outcome, Operations: ops})
}

// failed records an apply that the engine refused or that did not start.
// The same commit is retried with backoff.
func (s *stack) failed(head gitsource.Commit, start time.Time, ops []string, err error) {
	s.failures++
	wait := backoff(s.failures)
	s.retryAt = time.Now().Add(wait)
	s.log.Error("deploy failed", "commit", head.Short(), "error", err, "failures", s.failures, "retry_in", wait.String())
	s.update(func(st *store.StackState) { st.State, st.Attempted, st.Error = StateFailed, head.Hash, err.Error() })
	s.record(&store.Deploy{Commit: head.Hash, Author: head.Author, Message: firstLine(head.Message), Start: start, End: time.Now(), Outcome: OutcomeFailed, Error: err.Error(), Operations: ops})
}

func (s *stack) record(d *store.Deploy) {
	d.Stack = s.name
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
	if s.loaded == nil || s.loaded.commit != st.Applied {
		l, err := s.load(ctx, st.Applied)
		if err != nil {
			s.log.Error("reload the applied commit", "commit", short(st.Applied), "error", s.relative(err.Error()))
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
	if s.c.o.DriftWarn {
		if summary != s.drift {
			s.log.Warn("drift found; --drift warn leaves it", "drift", summary)
			s.drift = summary
		}
		s.update(func(st *store.StackState) { st.State, st.Error = StateDrifted, summary })
		return
	}
	s.log.Warn("drift found; putting the applied commit back", "drift", summary)
	head, err := s.c.o.Source.Commit(st.Applied)
	if err != nil {
		head = gitsource.Commit{Hash: st.Applied}
	}
	s.apply(ctx, s.loaded, head, OutcomeDrift)
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
	if err := os.RemoveAll(s.dir); err != nil {
		s.log.Warn("remove stack files", "dir", s.dir, "error", err)
	}
	s.exported, s.loaded = "", nil
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}
