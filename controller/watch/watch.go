// Package watch follows the engine's events for the containers berth
// manages while their stacks run, and turns what it sees into incidents:
// a service restarting in a loop, a container killed for lack of memory,
// a container that turned unhealthy. Each incident is one alert through
// the notification sinks and one recovery notice when it ends.
//
// The stream is resumed after a break (the engine restarting, the socket
// cut) from the last event's time, and an event seen twice is counted
// once. What berth does itself (a rollout replacing containers, drift
// correction, a removal) is no incident: the controller marks the time a
// stack is acted on (Acting) and the events of that stack's containers
// within it are taken as berth's own.
package watch

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/controller/notify"
)

// Engine is the part of the Docker API the watcher reads.
type Engine interface {
	Events(ctx context.Context, options client.EventsListOptions) client.EventsResult
	ContainerLogs(ctx context.Context, container string, options client.ContainerLogsOptions) (client.ContainerLogsResult, error)
}

var _ Engine = (*client.Client)(nil)

// Metrics counts what the watcher sees, by stack and service.
type Metrics interface {
	RestartSeen(stack, service string)
	OOMKilled(stack, service string)
}

// Options configure a Watcher.
type Options struct {
	Engine Engine
	Logger *slog.Logger
	// Notify receives the incidents; it must not block.
	Notify  func(notify.Event)
	Metrics Metrics
	// Host names this host in the alerts; URL links to a status page.
	Host, URL string
	// Owns says whether a stack (a compose project) is one this berth
	// runs: the engine may hold other berth-managed stacks (another data
	// dir, a person's berth apply). Nil owns every stack.
	Owns func(stack string) bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Watcher follows the events. Make it with New, then Run it.
type Watcher struct {
	o   Options
	log *slog.Logger

	mu         sync.Mutex
	containers map[string]*container
	services   map[serviceKey]*service
	rules      map[string]map[string]compose.RestartAlert // stack → service → rule
	acting     map[string][]*span                         // stack → berth's own work
	seen       map[seenKey]bool
	last       int64 // the last event's time, Unix nanoseconds
	seq        int   // numbers the incidents
	isBroken   bool  // the stream broke and has sent nothing since
}

type serviceKey struct{ stack, service string }

type seenKey struct {
	at     int64
	id     string
	action events.Action
}

// span is a time berth acted on a stack; end is zero while it does.
type span struct{ start, end time.Time }

// New makes a watcher; nothing is read until Run.
func New(o Options) *Watcher {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Owns == nil {
		o.Owns = func(string) bool { return true }
	}
	if o.Notify == nil {
		o.Notify = func(notify.Event) {}
	}
	return &Watcher{o: o, log: o.Logger.With("component", "watch"), containers: map[string]*container{},
		services: map[serviceKey]*service{}, rules: map[string]map[string]compose.RestartAlert{},
		acting: map[string][]*span{}, seen: map[seenKey]bool{}}
}

// SetRules sets the restart alert of each service of a stack (the
// project's name), as its applied commit says.
func (w *Watcher) SetRules(stack string, rules map[string]compose.RestartAlert) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rules[stack] = rules
}

// Acting marks that berth acts on a stack's containers from now until
// done is called: what they do meanwhile is berth's doing.
func (w *Watcher) Acting(stack string) (done func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.o.Now()
	kept := w.acting[stack][:0]
	for _, s := range w.acting[stack] {
		if s.end.IsZero() || now.Sub(s.end) < time.Minute {
			kept = append(kept, s)
		}
	}
	sp := &span{start: now}
	w.acting[stack] = append(kept, sp)
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		sp.end = w.o.Now()
	}
}

// ours says whether berth acted on stack at t. The engine stamps an
// event before the call that caused it returns, so the span's end needs
// no slack. Called with mu held.
func (w *Watcher) ours(stack string, t time.Time) bool {
	for _, s := range w.acting[stack] {
		if !t.Before(s.start) && (s.end.IsZero() || !t.After(s.end)) {
			return true
		}
	}
	return false
}

// rule is a service's restart alert. Called with mu held.
func (w *Watcher) rule(k serviceKey) compose.RestartAlert {
	if r, ok := w.rules[k.stack][k.service]; ok && r.Count > 0 {
		return r
	}
	return compose.DefaultRestartAlert
}

func (w *Watcher) nextID(kind notify.Kind, k serviceKey, at time.Time) string {
	w.seq++
	return fmt.Sprintf("%s/%s/%s/%d-%d", k.stack, k.service, kind, at.Unix(), w.seq)
}

func exitCode(attrs map[string]string) *int {
	n, err := strconv.Atoi(attrs["exitCode"])
	if err != nil {
		return nil
	}
	return &n
}
