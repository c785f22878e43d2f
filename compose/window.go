package compose

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// The kinds of deploy window.
const (
	WindowAllow = "allow"
	WindowDeny  = "deny"
)

// Window is a deploy window: from each time Schedule fires, in Location,
// for Duration, new commits may deploy (allow) or must wait (deny). Deny
// wins over allow; once any allow window is set, new commits deploy only
// inside one. Rollbacks and drift correction ignore windows.
type Window struct {
	Kind     string
	Schedule cron.Schedule
	Spec     string // the schedule as written, for messages
	Duration time.Duration
	Location *time.Location
}

// ParseWindow reads one window's fields; an error names the field (kind,
// schedule, duration or timezone) and never the whole value. timezone ""
// is UTC.
func ParseWindow(kind, schedule, duration, timezone string) (Window, error) {
	w := Window{Kind: kind, Spec: schedule, Location: time.UTC}
	if kind != WindowAllow && kind != WindowDeny {
		return w, fmt.Errorf("kind: %q is not allow or deny", kind)
	}
	s, err := cron.ParseStandard(schedule)
	if err != nil {
		return w, fmt.Errorf("schedule: %q is not a cron spec (like \"0 8 * * 1-5\"): %w", schedule, err)
	}
	w.Schedule = s
	if w.Duration, err = time.ParseDuration(duration); err != nil || w.Duration <= 0 {
		return w, fmt.Errorf("duration: %q is not a positive duration (like 10h)", duration)
	}
	if timezone != "" {
		if w.Location, err = time.LoadLocation(timezone); err != nil {
			return w, fmt.Errorf("timezone: %q is not a known time zone (like Europe/Berlin)", timezone)
		}
	}
	return w, nil
}

// activeUntil reports whether the window is active at t and, if so, when
// the activation that began first ends.
func (w Window) activeUntil(t time.Time) (bool, time.Time) {
	start := w.Schedule.Next(t.In(w.Location).Add(-w.Duration))
	if start.IsZero() || start.After(t) {
		return false, time.Time{}
	}
	return true, start.Add(w.Duration)
}

// WindowOpen says whether a new commit may deploy at now under windows
// and, when it may not, the next time it may (zero if none within a year).
// No windows is always open.
func WindowOpen(windows []Window, now time.Time) (open bool, next time.Time) {
	t := now
	for range 2000 {
		open, boundary := windowsAt(windows, t)
		if open {
			return t == now, t
		}
		if boundary.IsZero() || boundary.Sub(now) > 366*24*time.Hour {
			return false, time.Time{}
		}
		t = boundary
	}
	return false, time.Time{}
}

// windowsAt says whether deploys are open at t and, if not, the next time
// the answer may change.
func windowsAt(windows []Window, t time.Time) (bool, time.Time) {
	var next time.Time
	earliest := func(c time.Time) {
		if !c.IsZero() && (next.IsZero() || c.Before(next)) {
			next = c
		}
	}
	denied, allows, allowed := false, false, false
	for _, w := range windows {
		active, end := w.activeUntil(t)
		switch w.Kind {
		case WindowDeny:
			if active {
				denied = true
				earliest(end)
			}
		case WindowAllow:
			allows = true
			if active {
				allowed = true
			} else {
				earliest(w.Schedule.Next(t.In(w.Location)))
			}
		}
	}
	if !denied && (!allows || allowed) {
		return true, time.Time{}
	}
	return false, next
}

// WindowNote is when a closed window opens, for the status line, e.g.
// "Mon 08:00 Europe/Berlin": the weekday for the next six days, else the
// date.
func WindowNote(next, now time.Time) string {
	if next.IsZero() {
		return "not within a year"
	}
	layout := "Mon 15:04"
	if next.Sub(now) >= 6*24*time.Hour {
		layout = "Mon Jan 2 15:04"
	}
	return next.Format(layout) + " " + next.Location().String()
}
