package notify

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-gitops/berth/gitsource"
)

// Sink sends one event somewhere. Send is called from the sink's own
// goroutine, one event at a time, in the order Notify saw them. An error
// is retried unless it has a Retryable method that says false (a 4xx other
// than 408 or 429); it may also say how long to wait (RetryAfter).
type Sink interface {
	// Name is the sink's kind and host ("slack hooks.slack.com"): safe to
	// log, never the URL.
	Name() string
	Send(ctx context.Context, e Event) error
}

// Defaults of Options.
const (
	DefaultWindow    = 10 * time.Minute
	DefaultQueueSize = 64
	DefaultBackoff   = time.Second
	DefaultTries     = 5
	DefaultTimeout   = 10 * time.Second
)

// Target is a sink with its name in the host settings and the route of
// the events it hears.
type Target struct {
	// Name is the sink's name in the settings ("ops"); logs show it
	// beside Sink.Name.
	Name  string
	Sink  Sink
	Route Route
}

// Options configure a Notifier; zero values take the defaults.
type Options struct {
	// Sinks hear every event; Targets hear what their routes let through.
	Sinks   []Sink
	Targets []Target
	Logger  *slog.Logger
	// Window is each sink's duplicate window: an event of the same kind,
	// stack and subject (or commit) as one the sink sent less than Window
	// ago is dropped and counted.
	Window time.Duration
	// QueueSize bounds each sink's queue; when it is full the oldest event
	// is dropped, with a warning.
	QueueSize int
	// Backoff is the first wait between tries, doubled after each (1 s,
	// 2 s, 4 s, 8 s); Tries is how many tries an event gets in all.
	Backoff time.Duration
	Tries   int
	// Timeout bounds one try.
	Timeout time.Duration
	// Now is the clock of the duplicate window; time.Now when nil.
	Now func() time.Time
}

// Notifier fans events out to its sinks. Make it with New; Close it.
type Notifier struct {
	o       Options
	log     *slog.Logger
	workers []*worker

	mu     sync.Mutex // guards closed and each worker's window
	closed bool

	stop    context.Context // cancelled when Close gives up waiting
	cancel  context.CancelFunc
	stopped sync.WaitGroup
}

// New starts one goroutine per sink. With no sinks, Notify does nothing.
func New(o Options) *Notifier {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.Tries <= 0 {
		o.Tries = DefaultTries
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	n := &Notifier{o: o, log: o.Logger}
	n.stop, n.cancel = context.WithCancel(context.Background())
	targets := o.Targets
	for _, s := range o.Sinks {
		targets = append(targets, Target{Sink: s})
	}
	for _, t := range targets {
		log := o.Logger.With("sink", t.Sink.Name())
		if t.Name != "" {
			log = o.Logger.With("sink", t.Name+" ("+t.Sink.Name()+")")
		}
		w := &worker{n: n, sink: t.Sink, route: t.Route, log: log, wake: make(chan struct{}, 1),
			window: window{length: o.Window, seen: map[dedupeKey]*sighting{}}}
		n.workers = append(n.workers, w)
		n.stopped.Add(1)
		go w.run()
	}
	return n
}

// Notify queues e for every sink whose route hears it and returns at
// once. A sink drops e when it sent one of the same kind, stack and
// subject within its window, and says how many it dropped in the next one
// it sends. A zero Time is set to now.
func (n *Notifier) Notify(e Event) {
	if e.Time.IsZero() {
		e.Time = n.o.Now()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		n.log.Warn("notification dropped: the notifier is closed", "kind", e.Kind, "stack", e.Stack, "commit", gitsource.Short(e.Commit))
		return
	}
	now := n.o.Now()
	for _, w := range n.workers {
		w.offer(e, now)
	}
}

// Close stops taking events and waits until every queued one is sent or
// given up on, or until ctx ends: then the sends in flight are cut off and
// ctx's error is returned.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	for _, w := range n.workers {
		w.close()
	}
	done := make(chan struct{})
	go func() { n.stopped.Wait(); close(done) }()
	select {
	case <-done:
		n.cancel()
		return nil
	case <-ctx.Done():
		n.cancel()
		<-done
		return ctx.Err()
	}
}

// worker owns one sink: its queue and its goroutine.
type worker struct {
	n      *Notifier
	sink   Sink
	route  Route
	window window // guarded by n.mu
	log    *slog.Logger
	wake   chan struct{}

	mu      sync.Mutex
	queue   []Event
	closing bool
}

// offer queues e if the sink's route hears it and its window lets it
// through. The caller holds n.mu.
func (w *worker) offer(e Event, now time.Time) {
	if !w.route.Hears(e) {
		return
	}
	send, dropped, expired := w.window.admit(e, now)
	for _, x := range expired {
		w.log.Info("notification repeats not sent within the duplicate window", "kind", x.key.kind, "stack", x.key.stack,
			"subject", shortSubject(x.key.subject), "repeats", x.dropped, "window", w.window.length)
	}
	if !send {
		w.log.Debug("notification suppressed: sent already within the duplicate window", "kind", e.Kind, "stack", e.Stack,
			"subject", shortSubject(keyOf(e).subject))
		return
	}
	e.Suppressed = dropped
	w.push(e)
}

// shortSubject shortens a commit hash used as the subject.
func shortSubject(s string) string {
	if len(s) == 40 || len(s) == 64 {
		return gitsource.Short(s)
	}
	return s
}

func (w *worker) push(e Event) {
	w.mu.Lock()
	if len(w.queue) >= w.n.o.QueueSize {
		old := w.queue[0]
		w.queue = w.queue[1:]
		w.log.Warn("notification queue full: dropped the oldest event", "kind", old.Kind, "stack", old.Stack,
			"commit", gitsource.Short(old.Commit))
	}
	w.queue = append(w.queue, e)
	w.mu.Unlock()
	w.signal()
}

func (w *worker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) close() {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
	w.signal()
}

// next pops the oldest event (ok); with none queued, stop says whether
// the worker is closing.
func (w *worker) next() (e Event, ok, stop bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) > 0 {
		e = w.queue[0]
		w.queue = w.queue[1:]
		return e, true, false
	}
	return e, false, w.closing
}

func (w *worker) run() {
	defer w.n.stopped.Done()
	for {
		e, ok, stop := w.next()
		switch {
		case ok:
			w.deliver(e)
		case stop:
			return
		default:
			<-w.wake
		}
	}
}

// deliver sends e with retries: Backoff, doubled each time, or what the
// sink asks for (Retry-After).
func (w *worker) deliver(e Event) {
	ctx := w.n.stop
	wait := w.n.o.Backoff
	for try := 1; ; try++ {
		if ctx.Err() != nil {
			w.log.Warn("notification not sent: shutting down", "kind", e.Kind, "stack", e.Stack, "commit", gitsource.Short(e.Commit))
			return
		}
		tctx, cancel := context.WithTimeout(ctx, w.n.o.Timeout)
		err := w.sink.Send(tctx, e)
		cancel()
		if err == nil {
			w.log.Debug("notification sent", "kind", e.Kind, "stack", e.Stack, "commit", gitsource.Short(e.Commit), "tries", try)
			return
		}
		if !retryable(err) || try >= w.n.o.Tries {
			w.log.Warn("notification failed", "kind", e.Kind, "stack", e.Stack, "commit", gitsource.Short(e.Commit),
				"tries", try, "error", err)
			return
		}
		d := wait
		if ra := retryAfter(err); ra > 0 {
			d = min(ra, time.Minute)
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		wait *= 2
	}
}

func retryable(err error) bool {
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	return true
}

func retryAfter(err error) time.Duration {
	var r interface{ RetryAfter() time.Duration }
	if errors.As(err, &r) {
		return r.RetryAfter()
	}
	return 0
}
