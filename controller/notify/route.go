package notify

import (
	"fmt"
	"path"
	"slices"
	"time"
)

// Route says which events a sink hears, in the spirit of Flux's Alert:
// the kinds, the stacks by name pattern, and a minimum severity. The zero
// Route hears everything.
type Route struct {
	// Kinds the sink hears; empty means every kind.
	Kinds []Kind
	// Stacks are path.Match patterns of the stacks it hears; empty means
	// every stack. ExcludeStacks wins over Stacks.
	Stacks        []string
	ExcludeStacks []string
	// MinSeverity drops the events below it.
	MinSeverity Severity
}

// PatternProblem says what is wrong with a stack pattern, or "".
func PatternProblem(p string) string {
	if p == "" {
		return "is empty"
	}
	if _, err := path.Match(p, ""); err != nil {
		return "is not a path.Match pattern"
	}
	return ""
}

// Check reports the route's first bad pattern, naming its list and index.
func (r Route) Check() error {
	for _, l := range []struct {
		name string
		ps   []string
	}{{"stacks", r.Stacks}, {"exclude_stacks", r.ExcludeStacks}} {
		for i, p := range l.ps {
			if msg := PatternProblem(p); msg != "" {
				return fmt.Errorf("%s[%d]: %q %s", l.name, i, p, msg)
			}
		}
	}
	return nil
}

// Hears says whether the route lets e through. An event about the host
// itself (no stack) passes the stack patterns: choose those with Kinds.
func (r Route) Hears(e Event) bool {
	if len(r.Kinds) > 0 && !slices.Contains(r.Kinds, e.Kind) {
		return false
	}
	if e.Kind.Severity() < r.MinSeverity {
		return false
	}
	if e.Stack == "" {
		return true
	}
	if len(r.Stacks) > 0 && !matchAny(r.Stacks, e.Stack) {
		return false
	}
	return !matchAny(r.ExcludeStacks, e.Stack)
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// window is one sink's duplicate window: the same kind, stack and subject
// goes out once per window, and the repeats in between are counted.
type window struct {
	length time.Duration
	seen   map[dedupeKey]*sighting
}

type dedupeKey struct {
	kind           Kind
	stack, subject string
}

type sighting struct {
	sent    time.Time
	dropped int
}

func keyOf(e Event) dedupeKey {
	subject := e.Subject
	switch {
	case e.Incident.ID != "":
		subject = e.Incident.ID // each incident is news; its recovery too
	case subject == "":
		subject = e.Commit
	}
	return dedupeKey{e.Kind, e.Stack, subject}
}

// admit says whether e goes out at now and, if so, how many repeats of it
// were dropped since the last one sent. expired lists the keys whose
// window ended with repeats that no later event reported.
func (w *window) admit(e Event, now time.Time) (send bool, dropped int, expired []expiry) {
	k := keyOf(e)
	for key, s := range w.seen {
		if now.Sub(s.sent) < w.length || key == k {
			continue
		}
		if s.dropped > 0 {
			expired = append(expired, expiry{key, s.dropped})
		}
		delete(w.seen, key)
	}
	if s, ok := w.seen[k]; ok {
		if now.Sub(s.sent) < w.length {
			s.dropped++
			return false, 0, expired
		}
		dropped = s.dropped
	}
	w.seen[k] = &sighting{sent: now}
	return true, dropped, expired
}

// expiry is a key whose window ended with dropped repeats unreported.
type expiry struct {
	key     dedupeKey
	dropped int
}
