package watch

import (
	"context"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/controller/notify"
)

// container is what the watcher remembers of one container.
type container struct {
	key  serviceKey
	name string
	// lastDie and prevDie are its last two exits: a run's log lines are
	// those after the exit before it (its start event comes after the
	// process has begun to print).
	lastDie, prevDie time.Time
	// died says it exited by itself (not stopped, not by berth): a start
	// that follows is a restart.
	died     bool
	exit     *int
	oomAt    time.Time // an OOM kill whose die has not come yet
	oomAlert bool      // the OOM opened an incident: alert on the die
}

// service is what the watcher remembers of one service of a stack.
type service struct {
	restarts  int
	hourly    [24]hourCount // restarts per hour of the last day
	recent    []time.Time   // restarts within the rule's window
	exits     []int         // the last exit codes, newest last
	ooms      int
	lastOOM   time.Time
	health    string
	changes   int             // health transitions
	unhealthy map[string]bool // containers unhealthy now

	loop, oom, sick *incident
}

// hourCount is the restarts in one hour (Unix time / 3600).
type hourCount struct {
	hour int64
	n    int
}

// countHourly adds a restart at t to its hour's slot, which it takes over from
// the same slot's hour a day earlier.
func (s *service) countHourly(t time.Time) {
	h := t.Unix() / 3600
	slot := &s.hourly[h%24]
	if slot.hour != h {
		*slot = hourCount{hour: h}
	}
	slot.n++
}

// lastDay is the restarts in the hour of now and the 23 before it.
func (s *service) lastDay(now time.Time) int {
	h, n := now.Unix()/3600, 0
	for _, c := range s.hourly {
		if c.hour > h-24 && c.hour <= h {
			n += c.n
		}
	}
	return n
}

// incident is one open incident of a service.
type incident struct {
	id        string
	container string
	count     int
	last      time.Time
}

// lastExits is how many exit codes a service keeps.
const lastExits = 5

// pending is an alert to send, with the container whose log lines it
// counts (those after since, all when since is zero) when logs is set.
type pending struct {
	event notify.Event
	logs  string
	since time.Time
}

// handle records one event and sends the alerts it raises.
func (w *Watcher) handle(ctx context.Context, m events.Message) {
	for _, a := range w.record(m) {
		w.send(ctx, a)
	}
}

// record takes one event into the state and returns the alerts it
// raises.
func (w *Watcher) record(m events.Message) []pending {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.fresh(m) {
		return nil
	}
	attrs := m.Actor.Attributes
	k := serviceKey{attrs[compose.LabelProject], attrs[compose.LabelService]}
	if k.stack == "" || k.service == "" || attrs[compose.LabelOneoff] == "True" || !w.o.Owns(k.stack) {
		return nil
	}
	at := time.Unix(0, m.TimeNano)
	c := w.containers[m.Actor.ID]
	if c == nil {
		c = &container{key: k, name: attrs["name"]}
		w.containers[m.Actor.ID] = c
	}
	s := w.service(k)
	if m.Action == events.ActionDestroy {
		delete(w.containers, m.Actor.ID)
		return w.healthy(s, k, m.Actor.ID, at)
	}
	if w.ours(k.stack, at) {
		// berth stops, replaces or starts it: no restart, no incident.
		c.died, c.oomAt = false, time.Time{}
		if m.Action == events.ActionDie {
			c.prevDie, c.lastDie = c.lastDie, at
		}
		return nil
	}
	return w.apply(s, k, c, m, at)
}

// fresh says whether m is new, and remembers it: a stream resumed from
// the last event's time sends it (and its peers of that time) again.
func (w *Watcher) fresh(m events.Message) bool {
	key := seenKey{m.TimeNano, m.Actor.ID, m.Action}
	if w.seen[key] {
		return false
	}
	w.seen[key] = true
	if m.TimeNano > w.last {
		w.last = m.TimeNano
		for k := range w.seen {
			if k.at < w.last-int64(10*time.Second) {
				delete(w.seen, k)
			}
		}
	}
	return true
}

func (w *Watcher) service(k serviceKey) *service {
	s := w.services[k]
	if s == nil {
		s = &service{unhealthy: map[string]bool{}}
		w.services[k] = s
	}
	return s
}

// apply is one event of a container berth is not acting on.
func (w *Watcher) apply(s *service, k serviceKey, c *container, m events.Message, at time.Time) []pending {
	switch m.Action {
	case events.ActionDie:
		c.died, c.exit = true, exitCode(m.Actor.Attributes)
		c.prevDie, c.lastDie = c.lastDie, at
		if c.exit != nil {
			s.exits = append(s.exits, *c.exit)
			if len(s.exits) > lastExits {
				s.exits = s.exits[1:]
			}
		}
		if c.oomAlert {
			c.oomAlert, c.oomAt = false, time.Time{}
			return []pending{w.oomAlert(s, k, c, at, c.prevDie)}
		}
	case events.ActionStop, events.ActionRestart:
		// Stopped (or restarted) by a person: the start after it is no loop.
		c.died = false
	case events.ActionStart:
		if c.died {
			c.died = false
			return w.restarted(s, k, c, at)
		}
	case events.ActionOOM:
		return w.oomKilled(s, k, c, at)
	case events.ActionHealthStatusUnhealthy:
		return w.unhealthy(s, k, c, m.Actor.ID, at)
	case events.ActionHealthStatusHealthy:
		s.health = "healthy"
		s.changes++
		return w.healthy(s, k, m.Actor.ID, at)
	}
	return nil
}

// restarted counts a container that died and started again by itself;
// the restart that reaches the service's rule opens a restart loop.
func (w *Watcher) restarted(s *service, k serviceKey, c *container, at time.Time) []pending {
	if w.o.Metrics != nil {
		w.o.Metrics.RestartSeen(k.stack, k.service)
	}
	s.restarts++
	s.countHourly(at)
	r := w.rule(k)
	kept := s.recent[:0]
	for _, t := range s.recent {
		if at.Sub(t) < r.Window {
			kept = append(kept, t)
		}
	}
	s.recent = append(kept, at)
	if s.loop != nil {
		s.loop.count++
		s.loop.last = at
		return nil
	}
	if len(s.recent) < r.Count {
		return nil
	}
	s.loop = &incident{id: w.nextID(notify.RestartLoop, k, at), container: c.name, count: len(s.recent), last: at}
	w.log.Warn("restart loop", "stack", k.stack, "service", k.service, "container", c.name, "restarts", len(s.recent),
		"window", r.Window.String())
	e := w.event(notify.RestartLoop, k, s.loop, at)
	e.ExitCode, e.Window = c.exit, r.Window.String()
	return []pending{{event: e, logs: c.name, since: c.prevDie}}
}

// oomKilled counts an OOM kill; the alert waits for the container's die,
// which brings the exit code, or for the sweep.
func (w *Watcher) oomKilled(s *service, k serviceKey, c *container, at time.Time) []pending {
	if w.o.Metrics != nil {
		w.o.Metrics.OOMKilled(k.stack, k.service)
	}
	s.ooms++
	s.lastOOM = at
	if s.oom != nil {
		s.oom.count++
		s.oom.last = at
		return nil
	}
	s.oom = &incident{id: w.nextID(notify.OOMKilled, k, at), container: c.name, count: 1, last: at}
	c.oomAt, c.oomAlert = at, true
	return nil
}

func (w *Watcher) oomAlert(s *service, k serviceKey, c *container, at, since time.Time) pending {
	w.log.Warn("container killed for lack of memory", "stack", k.stack, "service", k.service, "container", c.name)
	e := w.event(notify.OOMKilled, k, s.oom, at)
	e.ExitCode, e.Window = c.exit, w.rule(k).Window.String()
	return pending{event: e, logs: c.name, since: since}
}

func (w *Watcher) unhealthy(s *service, k serviceKey, c *container, id string, at time.Time) []pending {
	s.health = "unhealthy"
	s.changes++
	s.unhealthy[id] = true
	if s.sick != nil {
		s.sick.count = len(s.unhealthy)
		return nil
	}
	s.sick = &incident{id: w.nextID(notify.Unhealthy, k, at), container: c.name, count: 1, last: at}
	w.log.Warn("container unhealthy", "stack", k.stack, "service", k.service, "container", c.name)
	return []pending{{event: w.event(notify.Unhealthy, k, s.sick, at), logs: c.name, since: c.lastDie}}
}

// healthy ends the service's unhealthy incident once none of its
// containers is unhealthy (healthy again, or removed).
func (w *Watcher) healthy(s *service, k serviceKey, id string, at time.Time) []pending {
	delete(s.unhealthy, id)
	if s.sick == nil || len(s.unhealthy) > 0 {
		return nil
	}
	inc := s.sick
	s.sick = nil
	return []pending{w.recovered(notify.Unhealthy, k, inc, at)}
}

// sweep ends the restart loops and OOM incidents with none in their
// window, and sends the OOM alerts whose die did not come.
func (w *Watcher) sweep(now time.Time) []pending {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []pending
	for k, s := range w.services {
		r := w.rule(k)
		if s.loop != nil && now.Sub(s.loop.last) >= r.Window {
			out = append(out, w.recovered(notify.RestartLoop, k, s.loop, now))
			s.loop, s.recent = nil, nil
		}
		if s.oom != nil && now.Sub(s.oom.last) >= r.Window {
			out = append(out, w.recovered(notify.OOMKilled, k, s.oom, now))
			s.oom = nil
		}
	}
	for _, c := range w.containers {
		// The OOM killer took a process other than the container's own:
		// the container lives on, and no die brings an exit code.
		if c.oomAlert && now.Sub(c.oomAt) > 2*time.Second {
			c.oomAlert, c.oomAt = false, time.Time{}
			out = append(out, w.oomAlert(w.service(c.key), c.key, c, now, c.lastDie))
		}
	}
	return out
}

func (w *Watcher) recovered(of notify.Kind, k serviceKey, inc *incident, at time.Time) pending {
	w.log.Info("incident over", "stack", k.stack, "service", k.service, "incident", string(of))
	e := w.event(notify.IncidentRecovered, k, inc, at)
	e.Of = of
	return pending{event: e}
}

func (w *Watcher) event(kind notify.Kind, k serviceKey, inc *incident, at time.Time) notify.Event {
	return notify.Event{Kind: kind, Host: w.o.Host, Stack: k.stack, Time: at, URL: w.o.URL,
		Incident: notify.Incident{ID: inc.id, Service: k.service, Container: inc.container, Count: inc.count}}
}

// send counts the alert's log lines and hands it to the sinks.
func (w *Watcher) send(ctx context.Context, p pending) {
	if p.logs != "" {
		p.event.LogLines = w.logLines(ctx, p.logs, p.since)
	}
	w.o.Notify(p.event)
}
