package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	from := time.Date(2025, 3, 1, 10, 2, 0, 0, time.UTC)
	for _, tc := range []struct {
		spec string
		next time.Time // after from
		err  string
	}{
		{spec: "30s", next: from.Add(30 * time.Second)},
		{spec: "1s", next: from.Add(time.Second)},
		{spec: "500ms", err: `"500ms" is under the 1s minimum`},
		{spec: "@every 1m", next: from.Add(time.Minute)},
		{spec: "@every 500ms", err: `"@every 500ms" is under the 1s minimum`},
		{spec: "@every soon", err: `"@every soon": "soon" is not a duration`},
		{spec: "*/5 * * * *", next: time.Date(2025, 3, 1, 10, 5, 0, 0, time.UTC)},
		{spec: "@hourly", next: time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)},
		{spec: "garbage", err: `"garbage" is neither a duration nor a cron spec`},
		{spec: "* * * *", err: `"* * * *" is neither a duration nor a cron spec`},
		{spec: "", err: "empty schedule"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := ParseSchedule(tc.spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(from); !got.Equal(tc.next) {
				t.Fatalf("Next(%s) = %s, want %s", from, got, tc.next)
			}
		})
	}
}
