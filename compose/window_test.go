package compose

import (
	"strings"
	"testing"
	"time"
)

func mustWindow(t *testing.T, kind, schedule, duration, tz string) Window {
	t.Helper()
	w, err := ParseWindow(kind, schedule, duration, tz)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWindowOpen(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	type spec struct{ kind, schedule, duration string }
	// 2026-12-07 is a Monday.
	tests := []struct {
		name     string
		windows  []spec
		now      string
		open     bool
		next     string // Berlin time; "" for none
		nextNote string
	}{
		{name: "no windows", now: "2026-12-07 03:00", open: true, next: "2026-12-07 03:00"},
		{name: "inside an allow window", windows: []spec{{"allow", "0 8 * * 1-5", "10h"}}, now: "2026-12-07 09:00", open: true, next: "2026-12-07 09:00"},
		{name: "allow only, weekend waits for Monday", windows: []spec{{"allow", "0 8 * * 1-5", "10h"}}, now: "2026-12-12 10:00", next: "2026-12-14 08:00", nextNote: "Mon 08:00 Europe/Berlin"},
		{name: "allow only, after hours", windows: []spec{{"allow", "0 8 * * 1-5", "10h"}}, now: "2026-12-07 18:00", next: "2026-12-08 08:00", nextNote: "Tue 08:00 Europe/Berlin"},
		{name: "deny only, outside it", windows: []spec{{"deny", "0 22 * * *", "10h"}}, now: "2026-12-07 12:00", open: true, next: "2026-12-07 12:00"},
		{name: "deny spanning midnight, before midnight", windows: []spec{{"deny", "0 22 * * *", "10h"}}, now: "2026-12-07 23:30", next: "2026-12-08 08:00"},
		{name: "deny spanning midnight, after midnight", windows: []spec{{"deny", "0 22 * * *", "10h"}}, now: "2026-12-08 03:00", next: "2026-12-08 08:00"},
		{name: "deny ends exactly now", windows: []spec{{"deny", "0 22 * * *", "10h"}}, now: "2026-12-08 08:00", open: true, next: "2026-12-08 08:00"},
		{name: "deny wins inside allow", windows: []spec{{"allow", "0 8 * * *", "10h"}, {"deny", "0 12 * * *", "1h"}}, now: "2026-12-07 12:30", next: "2026-12-07 13:00"},
		{name: "deny ends after the allow window", windows: []spec{{"allow", "0 8 * * *", "10h"}, {"deny", "0 17 * * *", "2h"}}, now: "2026-12-07 17:30", next: "2026-12-08 08:00"},
		{name: "two allow windows, the earlier opening counts", windows: []spec{{"allow", "0 8 * * *", "1h"}, {"allow", "0 20 * * *", "1h"}}, now: "2026-12-07 12:00", next: "2026-12-07 20:00"},
		// Clocks go forward on 2026-03-29 in Berlin: 08:00 that day is
		// 23 hours after 08:00 the day before, at 06:00 UTC.
		{name: "opening after the switch to summer time", windows: []spec{{"allow", "0 8 * * *", "1h"}}, now: "2026-03-28 10:00", next: "2026-03-29 08:00"},
		// The deny window began at 22:00 CET and lasts 10 real hours: it
		// ends at 09:00 CEST.
		{name: "deny across the switch to summer time", windows: []spec{{"deny", "0 22 * * *", "10h"}}, now: "2026-03-29 08:30", next: "2026-03-29 09:00"},
		{name: "never opens", windows: []spec{{"allow", "0 8 30 2 *", "1h"}}, now: "2026-12-07 12:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ws []Window
			for _, s := range tt.windows {
				ws = append(ws, mustWindow(t, s.kind, s.schedule, s.duration, "Europe/Berlin"))
			}
			now := at(tt.now)
			open, next := WindowOpen(ws, now)
			if open != tt.open {
				t.Errorf("open = %v, want %v", open, tt.open)
			}
			var want time.Time
			if tt.next != "" {
				want = at(tt.next)
			}
			if !next.Equal(want) {
				t.Errorf("next = %v, want %v", next, want)
			}
			if tt.nextNote != "" {
				if got := WindowNote(next, now); got != tt.nextNote {
					t.Errorf("note = %q, want %q", got, tt.nextNote)
				}
			}
		})
	}
	// The switch to summer time, in UTC.
	_, next := WindowOpen([]Window{mustWindow(t, "allow", "0 8 * * *", "1h", "Europe/Berlin")}, at("2026-03-28 10:00"))
	if want := time.Date(2026, 3, 29, 6, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Errorf("after the switch: next = %v, want %v", next.UTC(), want)
	}
}

func TestParseWindowErrorsNameTheField(t *testing.T) {
	for _, tt := range []struct{ kind, schedule, duration, tz, field string }{
		{"maybe", "0 8 * * *", "1h", "", "kind:"},
		{"allow", "0 8 * *", "1h", "", "schedule:"},
		{"allow", "0 8 * * *", "soon", "", "duration:"},
		{"allow", "0 8 * * *", "-1h", "", "duration:"},
		{"allow", "0 8 * * *", "1h", "Mars/Olympus", "timezone:"},
	} {
		_, err := ParseWindow(tt.kind, tt.schedule, tt.duration, tt.tz)
		if err == nil || !strings.HasPrefix(err.Error(), tt.field) {
			t.Errorf("ParseWindow(%q, %q, %q, %q) = %v, want an error starting %q", tt.kind, tt.schedule, tt.duration, tt.tz, err, tt.field)
		}
	}
}
