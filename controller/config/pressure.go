package config

import (
	"fmt"
	"time"
)

// Pressure is the host pressure watch of `berth run`: how often it reads
// the disk, inodes, memory and load, and the thresholds, in percent, at
// which disk, inodes and memory raise a warning and a critical alert.
type Pressure struct {
	// Interval is the time between readings; 0 turns the watch off.
	Interval Duration `yaml:"interval"`
	Warning  int      `yaml:"warning"`
	Critical int      `yaml:"critical"`
}

// DefaultPressure reads every 30 s and alerts at 90 % and 95 %.
func DefaultPressure() Pressure {
	return Pressure{Interval: Duration{30 * time.Second}, Warning: 90, Critical: 95}
}

func (p Pressure) problems() []error {
	var errs []error
	if d := p.Interval.Duration; d < 0 || d > 0 && d < time.Second {
		errs = append(errs, fmt.Errorf("pressure.interval: %q: want 0 (off) or 1s or more", p.Interval.String()))
	}
	if p.Warning < 1 || p.Warning > 100 {
		errs = append(errs, fmt.Errorf("pressure.warning: %d is not a percentage from 1 to 100", p.Warning))
	}
	if p.Critical < 1 || p.Critical > 100 {
		errs = append(errs, fmt.Errorf("pressure.critical: %d is not a percentage from 1 to 100", p.Critical))
	} else if p.Critical < p.Warning {
		errs = append(errs, fmt.Errorf("pressure.critical: %d is below pressure.warning (%d)", p.Critical, p.Warning))
	}
	return errs
}
