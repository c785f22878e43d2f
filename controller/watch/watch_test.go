package watch

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/controller/notify"
)

// The decisions on a sequence of events: these tests feed record the
// messages the engine sends (the e2e scenarios get them from a real one).

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func msg(id string, action events.Action, at time.Duration, attrs ...string) events.Message {
	a := map[string]string{compose.LabelProject: "shop", compose.LabelService: "web", "name": "shop-web-1"}
	for i := 0; i+1 < len(attrs); i += 2 {
		a[attrs[i]] = attrs[i+1]
	}
	ts := t0.Add(at)
	return events.Message{Type: events.ContainerEventType, Action: action, Actor: events.Actor{ID: id, Attributes: a},
		Time: ts.Unix(), TimeNano: ts.UnixNano()}
}

func crash(id string, at time.Duration) []events.Message {
	return []events.Message{msg(id, events.ActionDie, at, "exitCode", "3"), msg(id, events.ActionStart, at+100*time.Millisecond)}
}

func kindsOf(ps []pending) []notify.Kind {
	var out []notify.Kind
	for _, p := range ps {
		out = append(out, p.event.Kind)
	}
	return out
}

func TestRestartLoopOnceThenRecovery(t *testing.T) {
	w := New(Options{})
	w.SetRules("shop", map[string]compose.RestartAlert{"web": {Count: 3, Window: time.Minute}})
	var got []pending
	for i := range 5 {
		for _, m := range crash("c1", time.Duration(i)*time.Second) {
			got = append(got, w.record(m)...)
		}
	}
	if len(got) != 1 || got[0].event.Kind != notify.RestartLoop || got[0].event.Count != 3 || *got[0].event.ExitCode != 3 {
		t.Fatalf("alerts after 5 restarts = %+v, want one restart_loop at the third", got)
	}
	if rec := w.sweep(t0.Add(30 * time.Second)); len(rec) != 0 {
		t.Errorf("recovered within the window: %v", kindsOf(rec))
	}
	rec := w.sweep(t0.Add(5*time.Second + time.Minute))
	if len(rec) != 1 || rec[0].event.Kind != notify.IncidentRecovered || rec[0].event.ID != got[0].event.ID {
		t.Errorf("after the window: %+v, want one recovery of %s", kindsOf(rec), got[0].event.ID)
	}
	if s := w.Summary("shop"); len(s) != 1 || s[0].Restarts != 5 || len(s[0].ExitCodes) != 5 || len(s[0].Incidents) != 0 {
		t.Errorf("summary = %+v", s)
	}
}

// The summary counts the restarts of the last 24 hours apart from all of
// them since berth started.
func TestRestartsOfTheLastDay(t *testing.T) {
	now := t0
	w := New(Options{Now: func() time.Time { return now }})
	for _, at := range []time.Duration{0, time.Second, 2 * time.Hour, 30 * time.Hour, 30*time.Hour + time.Minute} {
		for _, m := range crash("c1", at) {
			w.record(m)
		}
	}
	for _, c := range []struct {
		at        time.Duration
		all, last int
	}{{3 * time.Hour, 5, 3}, {30*time.Hour + 5*time.Minute, 5, 2}, {60 * time.Hour, 5, 0}} {
		now = t0.Add(c.at)
		if s := w.Summary("shop"); s[0].Restarts != c.all || s[0].RestartsDay != c.last {
			t.Errorf("at +%s: restarts %d, in the last 24 h %d; want %d and %d", c.at, s[0].Restarts, s[0].RestartsDay, c.all, c.last)
		}
	}
}

func TestReplayedEventsCountOnce(t *testing.T) {
	w := New(Options{})
	var ms []events.Message
	for i := range 2 {
		ms = append(ms, crash("c1", time.Duration(i)*time.Second)...)
	}
	for _, m := range ms {
		w.record(m)
	}
	for _, m := range ms { // a stream resumed from before them sends them again
		if p := w.record(m); len(p) != 0 {
			t.Errorf("replayed %s raised %v", m.Action, kindsOf(p))
		}
	}
	if s := w.Summary("shop"); s[0].Restarts != 2 {
		t.Errorf("restarts after a replay = %d, want 2", s[0].Restarts)
	}
}

func TestStoppedOrBerthsOwnIsNoRestart(t *testing.T) {
	now := t0
	w := New(Options{Now: func() time.Time { return now }})
	// A person stops and starts it: kill, die, stop, start.
	for _, m := range []events.Message{msg("c1", events.ActionKill, 0), msg("c1", events.ActionDie, 1), msg("c1", events.ActionStop, 2),
		msg("c1", events.ActionStart, 3)} {
		w.record(m)
	}
	// berth acts on the stack: its dies and starts are its own.
	now = t0.Add(time.Second)
	done := w.Acting("shop")
	for i := range 4 {
		for _, m := range crash("c1", time.Second+time.Duration(i)*10*time.Millisecond) {
			if p := w.record(m); len(p) != 0 {
				t.Errorf("berth's own work raised %v", kindsOf(p))
			}
		}
		msgU := msg("c2", events.ActionHealthStatusUnhealthy, time.Second+time.Duration(i)*10*time.Millisecond)
		if p := w.record(msgU); len(p) != 0 {
			t.Errorf("berth's own work raised %v", kindsOf(p))
		}
	}
	now = t0.Add(2 * time.Second)
	done()
	if s := w.Summary("shop"); s[0].Restarts != 0 {
		t.Errorf("restarts = %d, want 0", s[0].Restarts)
	}
	// After it, a crash counts again.
	if p := w.record(msg("c1", events.ActionDie, 3*time.Second)); len(p) != 0 {
		t.Fatal(kindsOf(p))
	}
	w.record(msg("c1", events.ActionStart, 3*time.Second+time.Millisecond))
	if s := w.Summary("shop"); s[0].Restarts != 1 {
		t.Errorf("restarts after berth's work = %d, want 1", s[0].Restarts)
	}
}

func TestOOMAlertCarriesTheExitCode(t *testing.T) {
	w := New(Options{})
	if p := w.record(msg("c1", events.ActionOOM, 0)); len(p) != 0 {
		t.Fatalf("oom alerted before its die: %v", kindsOf(p))
	}
	p := w.record(msg("c1", events.ActionDie, time.Millisecond, "exitCode", "137"))
	if len(p) != 1 || p[0].event.Kind != notify.OOMKilled || *p[0].event.ExitCode != 137 || p[0].event.Container != "shop-web-1" {
		t.Fatalf("oom alert = %+v", p)
	}
	if s := w.Summary("shop"); s[0].OOMKills != 1 || len(s[0].Incidents) != 1 {
		t.Errorf("summary = %+v", s)
	}
}

func TestUnhealthyThenHealthy(t *testing.T) {
	w := New(Options{})
	p := w.record(msg("c1", events.ActionHealthStatusUnhealthy, 0))
	if len(p) != 1 || p[0].event.Kind != notify.Unhealthy {
		t.Fatalf("unhealthy: %v", kindsOf(p))
	}
	p = w.record(msg("c1", events.ActionHealthStatusHealthy, time.Second))
	if len(p) != 1 || p[0].event.Kind != notify.IncidentRecovered || p[0].event.Of != notify.Unhealthy {
		t.Fatalf("healthy again: %v", kindsOf(p))
	}
}

func TestOtherStacksAreNotWatched(t *testing.T) {
	w := New(Options{Owns: func(stack string) bool { return stack == "blog" }})
	for _, m := range crash("c1", 0) {
		w.record(m)
	}
	if s := w.Summary("shop"); s != nil {
		t.Errorf("a stack of another berth: %+v", s)
	}
}

func TestCountLines(t *testing.T) {
	frame := func(stream byte, s string) []byte {
		return append([]byte{stream, 0, 0, 0, 0, 0, 0, byte(len(s))}, s...)
	}
	muxed := append(frame(1, "one\n"), frame(2, "two\nthree\n")...)
	muxed = append(muxed, frame(1, strings.Repeat("\n", 10))...) // a header whose size is '\n'
	for raw, want := range map[string]int{string(muxed): 13, "a\nb\nc": 3, "": 0} {
		if n := countLines([]byte(raw)); n != want {
			t.Errorf("countLines(%q) = %d, want %d", raw, n, want)
		}
	}
}
