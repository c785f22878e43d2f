package controller

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/store"
)

func TestNextLevel(t *testing.T) {
	const warn, crit = 0.90, 0.95
	for _, tc := range []struct {
		prev  level
		ratio float64
		want  level
	}{
		{levelOK, 0.50, levelOK},
		{levelOK, 0.8999, levelOK},
		{levelOK, 0.90, levelWarning},
		{levelOK, 0.97, levelCritical},
		{levelWarning, 0.95, levelCritical},
		// Hovering just under a threshold keeps the level ...
		{levelWarning, 0.89, levelWarning},
		{levelWarning, 0.8801, levelWarning},
		{levelCritical, 0.94, levelCritical},
		// ... until it is the hysteresis below it.
		{levelWarning, 0.8799, levelOK},
		{levelCritical, 0.9299, levelWarning},
		{levelCritical, 0.10, levelOK},
	} {
		if got := nextLevel(tc.prev, tc.ratio, warn, crit); got != tc.want {
			t.Errorf("nextLevel(%s, %.4f) = %s, want %s", tc.prev, tc.ratio, got, tc.want)
		}
	}
}

func TestPressureAlerts(t *testing.T) {
	for _, tc := range []struct {
		prev, next level
		want       []notify.Kind
	}{
		{levelOK, levelOK, nil},
		{levelOK, levelWarning, []notify.Kind{notify.HostPressureWarning}},
		{levelOK, levelCritical, []notify.Kind{notify.HostPressureWarning, notify.HostPressureCritical}},
		{levelWarning, levelCritical, []notify.Kind{notify.HostPressureCritical}},
		{levelCritical, levelWarning, nil},
		{levelWarning, levelWarning, nil},
		{levelWarning, levelOK, []notify.Kind{notify.HostPressureRecovered}},
		{levelCritical, levelOK, []notify.Kind{notify.HostPressureRecovered}},
	} {
		if got := pressureAlerts(tc.prev, tc.next); !slices.Equal(got, tc.want) {
			t.Errorf("pressureAlerts(%s, %s) = %v, want %v", tc.prev, tc.next, got, tc.want)
		}
	}
}

func reader(s string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
}

// TestReadPressure: the ratios from given sources, and a path berth cannot
// see reported as such beside the ones it can.
func TestReadPressure(t *testing.T) {
	src := pressureSources{
		Paths: []string{"/var/lib/docker", "/data"},
		Statfs: func(p string) (fsUsage, error) {
			if p == "/data" {
				return fsUsage{}, &fs.PathError{Op: "statfs", Path: p, Err: fs.ErrNotExist}
			}
			// 100 blocks, 30 free of which 10 are root's: 70 used of 90.
			return fsUsage{Blocks: 100, Free: 30, Avail: 20, Files: 1000, FilesFree: 750}, nil
		},
		MemInfo: reader("MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    400 kB\n"),
		LoadAvg: reader("3.00 2.00 1.00 1/100 1234\n"),
		CPUs:    2,
	}
	got := readPressure(src)
	want := []PressureReading{
		{Resource: ResourceDisk, Path: "/var/lib/docker", Ratio: 70.0 / 90},
		{Resource: ResourceInodes, Path: "/var/lib/docker", Ratio: 0.25},
		{Resource: ResourceDisk, Path: "/data", Error: "not visible to berth (berth in a container without this path mounted?)"},
		{Resource: ResourceMemory, Ratio: 0.6},
		{Resource: ResourceLoad, Ratio: 1.5},
	}
	if !slices.Equal(got, want) {
		t.Errorf("readPressure =\n%+v\nwant\n%+v", got, want)
	}
	src.MemInfo = reader("MemTotal: 1000 kB\n")
	if r := readPressure(src)[3]; r.Resource != ResourceMemory || r.Error == "" {
		t.Errorf("meminfo without MemAvailable: %+v, want an error", r)
	}
	src.MemInfo = func() (io.ReadCloser, error) { return nil, errors.New("no /proc") }
	if r := readPressure(src)[3]; r.Error != "no /proc" {
		t.Errorf("meminfo unreadable: %+v", r)
	}
}

// TestReadPressureRealMachine reads this machine's filesystem, memory and
// load as berth run does.
func TestReadPressureRealMachine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	w := &pressureWatch{c: &Controller{o: Options{}}}
	src := w.sources(t.Context())
	src.Paths = []string{t.TempDir(), filepath.Join(t.TempDir(), "gone")}
	rs := readPressure(src)
	if len(rs) != 5 {
		t.Fatalf("readings = %+v, want disk, inodes, unseen disk, memory, load", rs)
	}
	for _, r := range rs[:2] {
		if r.Error != "" || r.Ratio <= 0 || r.Ratio >= 1 {
			t.Errorf("%s of a temporary folder: %+v", r.Resource, r)
		}
	}
	if rs[2].Error == "" {
		t.Errorf("a missing path: %+v, want it reported as not visible", rs[2])
	}
	if m := rs[3]; m.Resource != ResourceMemory || m.Error != "" || m.Ratio <= 0 || m.Ratio >= 1 {
		t.Errorf("memory: %+v", m)
	}
	if l := rs[4]; l.Resource != ResourceLoad || l.Error != "" || l.Ratio < 0 {
		t.Errorf("load: %+v", l)
	}
}

// TestPressureWatchAlertsOnce: several rounds over the thresholds raise
// one warning and one critical alert, a value hovering on the line raises
// nothing more, a restart remembers what was raised, and the drop below
// brings one recovery.
func TestPressureWatchAlertsOnce(t *testing.T) {
	var mu sync.Mutex
	var got []string
	db, err := store.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stateFile := filepath.Join(t.TempDir(), "pressure.json")
	watch := func() *pressureWatch {
		c, err := New(Options{Store: db, Host: "vps-1", Pressure: PressureOptions{Every: 1, Warning: 0.9, Critical: 0.95, StateFile: stateFile},
			Notify: func(e notify.Event) {
				mu.Lock()
				got = append(got, string(e.Kind)+" "+e.Subject)
				mu.Unlock()
			}})
		if err != nil {
			t.Fatal(err)
		}
		return c.pressure
	}
	w := watch()
	disk := func(r float64) []PressureReading {
		return []PressureReading{{Resource: ResourceDisk, Path: "/data", Ratio: r}, {Resource: ResourceLoad, Ratio: 9}}
	}
	for _, r := range []float64{0.5, 0.97, 0.98, 0.94, 0.96, 0.99} {
		w.record(disk(r))
	}
	w = watch() // a restart
	for _, r := range []float64{0.97, 0.89, 0.91, 0.87, 0.80} {
		w.record(disk(r))
	}
	want := []string{"host_pressure_warning disk /data", "host_pressure_critical disk /data", "host_pressure_recovered disk /data"}
	if !slices.Equal(got, want) {
		t.Errorf("alerts = %q, want %q", got, want)
	}
	st := w.snapshot()
	if st.Checks != 5 || len(st.Readings) != 2 || st.Readings[0].Level != "ok" {
		t.Errorf("status = %+v", st)
	}
	if _, err := os.Stat(stateFile); err != nil {
		t.Errorf("state file: %v", err)
	}
}
