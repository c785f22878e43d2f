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

// Options configure a Notifier; zero values take the defaults.
type Options struct {
	Sinks  []Sink
	Logger *slog.Logger
	// Window suppresses a second event of the same kind, stack and commit.
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

	mu     sync.Mutex
	sent   map[dedupeKey]time.Time
	closed bool

	stop    context.Context // cancelled when Close gives up waiting
	cancel  context.CancelFunc
	stopped sync.WaitGroup
}

type dedupeKey struct {
	kind          Kind
	stack, commit string
	incident      string // an incident's ID: each incident is news
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
	n := &Notifier{o: o, log: o.Logger, sent: map[dedupeKey]time.Time{}}
	n.stop, n.cancel = context.WithCancel(context.Background())
	for _, s := range o.Sinks {
		w := &worker{n: n, sink: s, log: o.Logger.With("sink", s.Name()), wake: make(chan struct{}, 1)}
		n.workers = append(n.workers, w)
		n.stopped.Add(1)
		go w.run()
	}
	return n
}

// Notify queues e for every sink and returns at once. An event equal in
// kind, stack and commit to one queued within the window is dropped. A zero
// Time is set to now.
func (n *Notifier) Notify(e Event) {
	if e.Time.IsZero() {
		e.Time = n.o.Now()
	}
	switch first, closed := n.first(e); {
	case closed:
		n.log.Warn("notification dropped: the notifier is closed", "kind", e.Kind, "stack", e.Stack, "commit", gitsource.Short(e.Commit))
		return
	case !first:
		n.log.Debug("notification suppressed: sent already", "kind", e.Kind, "stack", e.Stack, "commit", gitsource.Short(e.Commit))
		return
	}
	for _, w := range n.workers {
		w.push(e)
	}
}

// first records e and says whether it is new within the window, unless
// the notifier is closed.
func (n *Notifier) first(e Event) (first, closed bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false, true
	}
	now := n.o.Now()
	for k, t := range n.sent {
		if now.Sub(t) >= n.o.Window {
			delete(n.sent, k)
		}
	}
	k := dedupeKey{e.Kind, e.Stack, e.Commit, e.Incident.ID}
	if _, ok := n.sent[k]; ok {
		return false, false
	}
	n.sent[k] = now
	return true, false
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
	n    *Notifier
	sink Sink
	log  *slog.Logger
	wake chan struct{}

	mu      sync.Mutex
	queue   []Event
	closing bool
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
