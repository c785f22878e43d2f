package controller

import (
	"time"

	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/reconcile"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
)

// recorder is the part of the store a reconcile writes: the stack's state
// and its history.
type recorder interface {
	PutState(st store.StackState) error
	AddDeploy(d *store.Deploy) error
}

var _ recorder = (*store.Store)(nil)

// records is where the stack's writes go: the store, unless a test counts
// them on their way there.
func (c *Controller) records() recorder {
	if c.rec != nil {
		return c.rec
	}
	return c.o.Store
}

// outcome is what one reconcile of a stack came to. The steps fill it in
// and change nothing outside the stack's memory; finish, deferred by
// reconcile and remove, writes the status, the history entry, the metrics
// and the notification from it, each once. Only the live progress of a
// rollout (see progress) is written before.
type outcome struct {
	head  gitsource.Commit // the commit the reconcile worked towards
	began time.Time        // when the reconcile began
	start time.Time        // when its engine work began

	// changes are the status fields the steps changed, in order; finish
	// applies them to the state as it is then, so that a person's action
	// taken meanwhile keeps its own fields.
	changes []func(*store.StackState)

	end       ending
	purpose   string         // what a rollout was for: OutcomeSucceeded, OutcomeDrift or OutcomeSecrets
	kind      reconcile.Kind // what the loop does about err
	retry     string         // why it is retried, for the notification
	err       error
	msg       string // err as status and the history show it
	reason    string // the notification's reason, when not msg
	failures  int    // consecutive faults: with this one when retrying, else before this success
	ops       []string
	newCommit bool     // an applied end moved the stack to a commit it was not on
	warnings  []string // lint warnings of the commit deployed
	back      string   // the good commit a failed verification went back to
	by        string   // who asked for a deploy outside the deploy windows
}

// ending is how a reconcile ended, for the history and the notification.
type ending int

const (
	endQuiet      ending = iota // no deploy: waiting, drift only reported, an error only logged
	endApplied                  // a commit's state is live (maybe with no operation)
	endStalled                  // the commit's files do not load: a person must fix them
	endRetrying                 // a fault before any engine work: tried again later
	endFailed                   // the deploy failed and the stack was not put back
	endRolledBack               // verification failed: the last good commit is live again
	endRemoved                  // the stack left the repo or this host
)

func (s *stack) begin(head gitsource.Commit) *outcome {
	now := time.Now()
	return &outcome{head: head, began: now, start: now}
}

// set changes status fields when the reconcile finishes.
func (o *outcome) set(f func(st *store.StackState)) { o.changes = append(o.changes, f) }

// view is the stack's state with the reconcile's changes so far: what the
// next step of the same reconcile reads.
func (s *stack) view(o *outcome) store.StackState {
	st := s.state()
	for _, f := range o.changes {
		f(&st)
	}
	return st
}

// finish writes what the reconcile came to: the status once, then the
// history entry with its metric and the notification, when summarize says
// there is one.
func (s *stack) finish(o *outcome) {
	s.update(func(st *store.StackState) {
		for _, f := range o.changes {
			f(st)
		}
	})
	o.changes = nil
	if o.end == endApplied || o.end == endRolledBack {
		s.collectExports() // after the write: it keeps what the state names
	}
	history, note, reason := summarize(*o)
	if o.err != nil {
		s.log.Debug("reconciled", "commit", o.head.Short(), "handled_as", o.kind.String(), "error", s.public(o.err))
	}
	if history != "" {
		s.record(&store.Deploy{Commit: o.head.Hash, Author: o.head.Author, Message: firstLine(o.head.Message),
			Start: o.start, End: time.Now(), Outcome: history, Error: o.msg, Operations: o.ops, Warnings: o.warnings, By: o.by})
	}
	if note != "" {
		s.notify(note, o.head, reason)
	}
	s.measure(o)
}

// measure observes the reconcile and counts a rollback, when a failed
// verification asked for one.
func (s *stack) measure(o *outcome) {
	s.c.metrics.reconciled(s.name, time.Since(o.began))
	if o.kind == reconcile.RollBack {
		s.c.metrics.rollback(s.name, o.end == endRolledBack)
	}
}

// progress publishes a rollout that starts: the stack's state becomes
// deploying, with the reconcile's changes so far, and a deploy of a new
// commit is announced. It is the one write before finish, so that status
// and commit statuses show a deploy while it runs; finish still writes the
// outcome once.
func (s *stack) progress(o *outcome) {
	head := o.head
	o.set(func(st *store.StackState) { st.State, st.Attempted, st.Error = StateDeploying, head.Hash, "" })
	s.update(func(st *store.StackState) {
		for _, f := range o.changes {
			f(st)
		}
	})
	o.changes = nil
	if o.purpose == OutcomeSucceeded {
		s.notify(notify.DeployStarted, head, "")
	}
}

func (s *stack) record(d *store.Deploy) {
	d.Stack = s.name
	d.Error = s.red.String(d.Error)
	d.Operations, d.Warnings = s.red.Strings(d.Operations), s.red.Strings(d.Warnings)
	s.c.metrics.deploy(s.name, d.Outcome, d.End.Sub(d.Start), d.End)
	if err := s.c.records().AddDeploy(d); err != nil {
		s.log.Error("record deploy", "error", err)
	}
}

// notify sends an event about commit c, when the controller has sinks.
func (s *stack) notify(kind notify.Kind, c gitsource.Commit, reason string) {
	if s.c.o.Notify == nil {
		return
	}
	s.c.o.Notify(notify.Event{Kind: kind, Host: s.c.o.Host, Stack: s.name, Commit: c.Hash, Author: c.Author,
		Message: firstLine(c.Message), Reason: s.red.String(reason), Time: time.Now(), URL: s.c.o.StatusURL})
}
