package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose"
)

// The actions the watcher asks the engine for.
var actions = []events.Action{
	events.ActionStart, events.ActionDie, events.ActionKill, events.ActionStop, events.ActionRestart,
	events.ActionOOM, events.ActionDestroy, events.ActionHealthStatus,
}

const (
	backoffBase = 200 * time.Millisecond
	backoffCap  = 5 * time.Second
	// sweepEvery is how often incidents are checked for their end.
	sweepEvery = time.Second
)

// Run follows the engine's events until ctx ends. A broken stream is
// opened again with backoff, from the last event seen.
func (w *Watcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.sweepLoop(ctx) }()
	defer wg.Wait()
	since := w.o.Now()
	fails := 0
	for {
		got, err := w.follow(ctx, since)
		if ctx.Err() != nil {
			return
		}
		if got {
			fails = 0
		}
		fails++
		wait := backoff(fails)
		// The first failure and then every 10th are logged: an engine
		// that is down for an hour must not fill the log.
		if fails == 1 || fails%10 == 0 {
			w.log.Warn("engine event stream broken: resuming from the last event", "error", err, "failures", fails,
				"retry_in", wait.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// follow reads one event stream until it breaks; got says whether any
// event came.
func (w *Watcher) follow(ctx context.Context, start time.Time) (got bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	since := start.UnixNano()
	w.mu.Lock()
	if w.last > 0 {
		since = w.last // the last event comes again: seen drops it
	}
	w.mu.Unlock()
	f := make(client.Filters).Add("type", string(events.ContainerEventType)).
		Add("label", compose.LabelBerthManaged+"=true")
	for _, a := range actions {
		f.Add("event", string(a))
	}
	res := w.o.Engine.Events(ctx, client.EventsListOptions{Since: fmt.Sprintf("%d.%09d", since/1e9, since%1e9), Filters: f})
	for {
		select {
		case m, ok := <-res.Messages:
			if !ok {
				return got, errors.New("the stream ended")
			}
			if !got && w.broken() {
				w.log.Info("engine event stream restored")
			}
			got = true
			w.handle(ctx, m)
		case err := <-res.Err:
			if err == nil || errors.Is(err, io.EOF) {
				err = errors.New("the engine closed the stream")
			}
			w.setBroken(true)
			return got, err
		}
	}
}

func (w *Watcher) broken() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.isBroken
	w.isBroken = false
	return b
}

func (w *Watcher) setBroken(b bool) {
	w.mu.Lock()
	w.isBroken = b
	w.mu.Unlock()
}

func (w *Watcher) sweepLoop(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, a := range w.sweep(w.o.Now()) {
				w.send(ctx, a)
			}
		}
	}
}

// backoff doubles from 200 ms up to 5 s.
func backoff(n int) time.Duration {
	d := backoffBase
	for i := 1; i < n && d < backoffCap; i++ {
		d *= 2
	}
	return min(d, backoffCap)
}
