package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/controller/notify"
)

// PressureOptions configure the host pressure watch of `berth run`.
type PressureOptions struct {
	// Every is the time between two readings; zero turns the watch off.
	Every time.Duration
	// Warning and Critical are the ratios (0.9 for 90 %) of disk, inodes
	// and memory in use that raise an alert.
	Warning, Critical float64
	// DataDir is berth's data dir, read beside the engine's data root;
	// StateFile remembers the alerts raised, so a restart neither repeats
	// them nor misses the recovery.
	DataDir, StateFile string
}

// pressureHysteresis is how far below a threshold a reading must fall to
// count as below it again: a value hovering on the line does not flap.
const pressureHysteresis = 0.02

// level is how far a resource is over its thresholds.
type level int

const (
	levelOK level = iota
	levelWarning
	levelCritical
)

var levelNames = []string{"ok", "warning", "critical"}

func (l level) String() string { return levelNames[l] }

func parseLevel(s string) level {
	for i, n := range levelNames {
		if n == s {
			return level(i)
		}
	}
	return levelOK
}

func levelOf(ratio, warning, critical float64) level {
	switch {
	case ratio >= critical:
		return levelCritical
	case ratio >= warning:
		return levelWarning
	}
	return levelOK
}

// nextLevel is a resource's level after a reading: it rises as soon as the
// ratio reaches a threshold and falls only once it is pressureHysteresis
// below it.
func nextLevel(prev level, ratio, warning, critical float64) level {
	if up := levelOf(ratio, warning, critical); up >= prev {
		return up
	}
	return min(prev, levelOf(ratio+pressureHysteresis, warning, critical))
}

// pressureAlerts are the alerts of a move between levels: one per
// threshold crossed upwards (a jump to critical warns too), and a recovery
// when the resource is back to ok. Moving down from critical to warning
// says nothing: the warning still stands.
func pressureAlerts(prev, next level) []notify.Kind {
	var out []notify.Kind
	for l := prev + 1; l <= next; l++ {
		out = append(out, map[level]notify.Kind{levelWarning: notify.HostPressureWarning, levelCritical: notify.HostPressureCritical}[l])
	}
	if next == levelOK && prev > levelOK {
		out = append(out, notify.HostPressureRecovered)
	}
	return out
}

// PressureStatus is the host pressure in the status: the last readings and
// how many times the watch has read them.
type PressureStatus struct {
	Checks   int               `json:"checks"`
	Time     time.Time         `json:"time"`
	Readings []PressureReading `json:"readings"`
}

// infoer is the engine call that names its data root.
type infoer interface {
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
}

// pressureWatch reads the host's pressure every o.Every and alerts on the
// moves between levels.
type pressureWatch struct {
	c   *Controller
	o   PressureOptions
	log *slog.Logger

	levels map[string]level // by resource and path; persisted
	told   map[string]bool  // the unreadable sources already logged

	mu     sync.Mutex
	status PressureStatus
}

func newPressureWatch(c *Controller) *pressureWatch {
	w := &pressureWatch{c: c, o: c.o.Pressure, log: c.log.With("watch", "pressure"), levels: map[string]level{}, told: map[string]bool{}}
	w.loadLevels()
	return w
}

// run reads at once and then every o.Every until ctx ends.
func (w *pressureWatch) run(ctx context.Context) {
	t := time.NewTicker(w.o.Every)
	defer t.Stop()
	for {
		w.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check reads every source once, records the readings and sends the
// alerts of the levels that moved.
func (w *pressureWatch) check(ctx context.Context) { w.record(readPressure(w.sources(ctx))) }

// record judges one round of readings.
func (w *pressureWatch) record(rs []PressureReading) {
	changed := false
	for i := range rs {
		r := &rs[i]
		w.c.metrics.SetPressure(r.Resource, r.Path, r.Ratio)
		if r.Error != "" {
			w.tellOnce(r.Resource+" "+r.Path, "cannot read host pressure", "resource", r.Resource, "path", r.Path, "error", r.Error)
			continue
		}
		if r.Resource == ResourceLoad {
			continue // shown, not alerted: a busy host is not at fault
		}
		key := subject(r.Resource, r.Path)
		prev := w.levels[key]
		next := nextLevel(prev, r.Ratio, w.o.Warning, w.o.Critical)
		r.Level = next.String()
		if next != prev {
			w.levels[key], changed = next, true
			w.alert(*r, prev, next)
		}
	}
	if changed {
		w.saveLevels()
	}
	w.mu.Lock()
	w.status = PressureStatus{Checks: w.status.Checks + 1, Time: time.Now(), Readings: rs}
	w.mu.Unlock()
}

// sources are the real machine's: the engine's data root (asked of the
// engine each time: it may restart with another), berth's data dir,
// /proc/meminfo and /proc/loadavg.
func (w *pressureWatch) sources(ctx context.Context) pressureSources {
	src := pressureSources{Statfs: statfs, CPUs: runtime.NumCPU(),
		MemInfo: func() (io.ReadCloser, error) { return os.Open("/proc/meminfo") },
		LoadAvg: func() (io.ReadCloser, error) { return os.Open("/proc/loadavg") }}
	if e, ok := w.c.o.Engine.(infoer); ok {
		ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
		info, err := e.Info(ictx, client.InfoOptions{})
		cancel()
		switch {
		case err != nil:
			w.tellOnce("engine", "cannot ask the engine for its data root", "error", err)
		case info.Info.DockerRootDir != "":
			src.Paths = append(src.Paths, info.Info.DockerRootDir)
		}
	}
	if w.o.DataDir != "" {
		src.Paths = append(src.Paths, w.o.DataDir)
	}
	return src
}

// tellOnce logs a source berth cannot read the first time only.
func (w *pressureWatch) tellOnce(key, msg string, args ...any) {
	if !w.told[key] {
		w.told[key] = true
		w.log.Warn(msg, args...)
	}
}

func (w *pressureWatch) alert(r PressureReading, prev, next level) {
	w.log.Info("host pressure", "resource", r.Resource, "path", r.Path, "ratio", fmt.Sprintf("%.3f", r.Ratio), "from", prev.String(), "to", next.String())
	if w.c.o.Notify == nil {
		return
	}
	for _, k := range pressureAlerts(prev, next) {
		w.c.o.Notify(notify.Event{Kind: k, Host: w.c.o.Host, Subject: subject(r.Resource, r.Path), Time: time.Now(), URL: w.c.o.StatusURL,
			Reason: fmt.Sprintf("%.1f%% in use (warning at %.0f%%, critical at %.0f%%)", 100*r.Ratio, 100*w.o.Warning, 100*w.o.Critical)})
	}
}

func subject(resource, path string) string {
	if path == "" {
		return resource
	}
	return resource + " " + path
}

func (w *pressureWatch) snapshot() *PressureStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.status
	st.Readings = append([]PressureReading(nil), st.Readings...)
	return &st
}

// loadLevels reads the levels a previous run left; a missing or damaged
// file starts from ok.
func (w *pressureWatch) loadLevels() {
	if w.o.StateFile == "" {
		return
	}
	data, err := os.ReadFile(w.o.StateFile)
	if err != nil {
		return
	}
	var saved map[string]string
	if err := json.Unmarshal(data, &saved); err != nil {
		w.log.Warn("host pressure state unreadable: starting from ok", "file", w.o.StateFile, "error", err)
		return
	}
	for k, v := range saved {
		w.levels[k] = parseLevel(v)
	}
}

func (w *pressureWatch) saveLevels() {
	if w.o.StateFile == "" {
		return
	}
	saved := map[string]string{}
	for k, l := range w.levels {
		if l != levelOK {
			saved[k] = l.String()
		}
	}
	data, _ := json.Marshal(saved)
	tmp := w.o.StateFile + ".tmp"
	err := os.WriteFile(tmp, data, 0o600)
	if err == nil {
		err = os.Rename(tmp, filepath.Clean(w.o.StateFile))
	}
	if err != nil {
		w.log.Error("record host pressure state", "error", err)
	}
}
