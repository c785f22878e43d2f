package controller

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/rollout"
)

// journey is one stack's scheduled verification (x-berth watch): the
// verify probes of its deployed commit, run again every `every`, and the
// misses in a row that make it failing.
type journey struct {
	commit  string // the deployed commit whose settings it follows
	every   time.Duration
	needed  int // watch_failures
	next    time.Time
	misses  int
	failing bool // journey_failing sent, journey_recovered not yet
	runs    int
}

// follow sets the schedule from the deployed commit's settings: a new
// commit, or a changed watch, starts a new schedule one period from now.
func (j *journey) follow(commit string, set compose.Settings, now time.Time) {
	if commit == j.commit && set.Watch == j.every && set.WatchFailures == j.needed {
		return
	}
	j.commit, j.every, j.needed, j.misses = commit, set.Watch, set.WatchFailures, 0
	j.next = now.Add(set.Watch)
}

// due says whether the probes run now.
func (j *journey) due(now time.Time) bool { return j.every > 0 && !now.Before(j.next) }

// record counts one run's outcome and says which alert it raises, if
// any: journey_failing once the misses in a row reach the number needed,
// journey_recovered on the first pass after that.
func (j *journey) record(ok bool, now time.Time) notify.Kind {
	j.next = now.Add(j.every)
	j.runs++
	if ok {
		j.misses = 0
		if j.failing {
			j.failing = false
			return notify.JourneyRecovered
		}
		return ""
	}
	j.misses++
	if j.misses >= max(j.needed, 1) && !j.failing {
		j.failing = true
		return notify.JourneyFailing
	}
	return ""
}

// journeys runs every stack's journey when it is due. A stack's journey
// and its deploys take turns (hold), so probes never run while the stack
// rolls.
type journeys struct {
	c    *Controller
	log  *slog.Logger
	tick time.Duration

	mu    sync.Mutex
	holds map[string]*sync.Mutex
	state map[string]*journey
}

func newJourneys(c *Controller) *journeys {
	return &journeys{c: c, log: c.log.With("watch", "journey"), tick: time.Second,
		holds: map[string]*sync.Mutex{}, state: map[string]*journey{}}
}

// hold keeps a stack's journey from running until the returned function is
// called; the loop holds a stack while it reconciles it.
func (js *journeys) hold(stack string) func() {
	js.mu.Lock()
	m, ok := js.holds[stack]
	if !ok {
		m = &sync.Mutex{}
		js.holds[stack] = m
	}
	js.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// run looks for due journeys every tick until ctx ends.
func (js *journeys) run(ctx context.Context) {
	t := time.NewTicker(js.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range js.c.allStacks() {
			if ctx.Err() != nil {
				return
			}
			js.runStack(ctx, s)
		}
	}
}

// runStack runs a stack's journey if it is due, holding the stack.
func (js *journeys) runStack(ctx context.Context, s *stack) {
	defer js.hold(s.name)()
	p, set, commit := js.deployed(s)
	js.mu.Lock()
	j, ok := js.state[s.name]
	if !ok {
		j = &journey{}
		js.state[s.name] = j
	}
	now := time.Now()
	if p == nil {
		*j = journey{failing: j.failing, runs: j.runs} // nothing deployed that runs: no schedule
	} else {
		j.follow(commit, set, now)
	}
	due := j.due(now)
	js.mu.Unlock()
	if !due {
		return
	}
	failed := js.probe(ctx, s.name, p, set.Verify)
	if ctx.Err() != nil {
		return // stopping: the cut-short probes say nothing of the stack
	}
	js.mu.Lock()
	kind := j.record(failed == nil, time.Now())
	misses := j.misses
	js.mu.Unlock()
	if kind != "" {
		js.alert(s, kind, commit, failed, misses)
	}
}

// JourneyStatus is a stack's scheduled verification in the status.
type JourneyStatus struct {
	Stack   string        `json:"stack"`
	Commit  string        `json:"commit"`
	Every   time.Duration `json:"every"`
	Runs    int           `json:"runs"`
	Misses  int           `json:"misses"`
	Failing bool          `json:"failing"`
	Next    time.Time     `json:"next"`
}

// snapshot lists the scheduled journeys by stack.
func (js *journeys) snapshot() []JourneyStatus {
	js.mu.Lock()
	defer js.mu.Unlock()
	var out []JourneyStatus
	for name, j := range js.state {
		if j.every > 0 {
			out = append(out, JourneyStatus{Stack: name, Commit: j.commit, Every: j.every, Runs: j.runs, Misses: j.misses, Failing: j.failing, Next: j.next})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Stack < out[b].Stack })
	return out
}

// deployed is the stack's running commit, loaded, and its settings, when
// it is one whose journey runs: deployed and settled (a stalled stack still
// runs its applied commit), not suspended, not failed or retrying.
// The loop is held, so s.loaded is still.
func (js *journeys) deployed(s *stack) (*types.Project, compose.Settings, string) {
	st := s.state()
	switch {
	case st.Suspended, s.loaded == nil, s.loaded.commit != st.Applied:
		return nil, compose.Settings{}, ""
	case st.State != StateInSync && st.State != StateDrifted && st.State != StateRolledBack && st.State != StateStalled:
		return nil, compose.Settings{}, ""
	}
	set, err := compose.ReadStackSettings(s.loaded.project)
	if err != nil || set.Watch == 0 || len(set.Verify) == 0 {
		return nil, compose.Settings{}, ""
	}
	return s.loaded.project, set, st.Applied
}

// probeFailure is the first probe of a run that missed.
type probeFailure struct {
	probe  string
	reason string
}

// probe runs every probe once (each with its retries and timeout) and
// records each one's result; it returns the first miss.
func (js *journeys) probe(ctx context.Context, stack string, p *types.Project, probes []compose.Probe) *probeFailure {
	var first *probeFailure
	for _, pr := range probes {
		f := rollout.Probe(ctx, js.c.o.Engine, p, pr)
		js.c.metrics.SetJourneyUp(stack, pr.String(), f == nil)
		if f != nil && first == nil {
			first = &probeFailure{probe: pr.String(), reason: f.Reason}
		}
	}
	return first
}

func (js *journeys) alert(s *stack, kind notify.Kind, commit string, f *probeFailure, misses int) {
	ev := notify.Event{Kind: kind, Host: js.c.o.Host, Stack: s.name, Commit: commit, Time: time.Now(), URL: js.c.o.StatusURL}
	if f != nil {
		ev.Subject = f.probe
		ev.Reason = s.red.String(fmt.Sprintf("%d misses in a row: %s", misses, f.reason))
		s.log.Warn("journey failing", "commit", gitsource.Short(commit), "probe", f.probe, "misses", misses, "error", ev.Reason)
	} else {
		s.log.Info("journey recovered", "commit", gitsource.Short(commit))
	}
	if js.c.o.Notify != nil {
		js.c.o.Notify(ev)
	}
}

// allStacks lists the stacks the controller knows.
func (c *Controller) allStacks() []*stack {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*stack, 0, len(c.stacks))
	for _, s := range c.stacks {
		out = append(out, s)
	}
	return out
}

// startBeside starts what runs beside the loop (the journeys and the host
// pressure) and returns the function that stops them and waits.
func (c *Controller) startBeside(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.journeys.run(ctx) }()
	if c.pressure != nil {
		wg.Add(1)
		go func() { defer wg.Done(); c.pressure.run(ctx) }()
	}
	return func() { cancel(); wg.Wait() }
}
