package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// MinPoll is the shortest poll interval: a remote polled faster than this
// is hammered for no gain.
const MinPoll = time.Second

// ParseSchedule reads when to poll: a Go duration ("30s", "5m") is a
// constant delay; anything else is a cron spec in the standard five fields
// ("*/5 * * * *") or a descriptor ("@hourly", "@every 1m"). Intervals under
// MinPoll are refused, where robfig/cron would silently round them up.
func ParseSchedule(spec string) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("empty schedule (want a duration like 1m or a cron spec like \"*/5 * * * *\")")
	}
	every, isEvery := strings.CutPrefix(spec, "@every ")
	if d, err := time.ParseDuration(strings.TrimSpace(every)); err == nil {
		if d < MinPoll {
			return nil, fmt.Errorf("%q is under the %s minimum", spec, MinPoll)
		}
		return cron.Every(d), nil
	} else if isEvery {
		return nil, fmt.Errorf("%q: %q is not a duration", spec, every)
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a duration nor a cron spec: %w", spec, err)
	}
	return s, nil
}
