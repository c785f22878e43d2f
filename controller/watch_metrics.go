package controller

import (
	"fmt"
	"io"
	"sort"
)

// watchMetrics are the gauges of what berth watches between deploys.
type watchMetrics interface {
	SetPressure(resource, path string, ratio float64)
	SetJourneyUp(stack, probe string, up bool)
}

var _ watchMetrics = (*metrics)(nil)

// SetPressure records berth_host_pressure_ratio{resource,path}.
func (m *metrics) SetPressure(resource, path string, ratio float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pressure == nil {
		m.pressure = map[[2]string]float64{}
	}
	m.pressure[[2]string{resource, path}] = ratio
}

// SetJourneyUp records berth_journey_up{stack,probe}.
func (m *metrics) SetJourneyUp(stack, probe string, up bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.journeys == nil {
		m.journeys = map[[2]string]bool{}
	}
	m.journeys[[2]string{stack, probe}] = up
}

// writeWatch renders the watch gauges; m.mu is held.
func (m *metrics) writeWatch(w io.Writer) {
	fmt.Fprintf(w, "# HELP berth_host_pressure_ratio Share of a host resource in use: disk and inodes by path, memory, load per CPU.\n# TYPE berth_host_pressure_ratio gauge\n")
	for _, k := range sortedPairs(m.pressure) {
		fmt.Fprintf(w, "berth_host_pressure_ratio{resource=%s,path=%s} %g\n", quote(k[0]), quote(k[1]), m.pressure[k])
	}
	fmt.Fprintf(w, "# HELP berth_journey_up 1 while a stack's scheduled verify probe passes.\n# TYPE berth_journey_up gauge\n")
	for _, k := range sortedPairs(m.journeys) {
		up := 0
		if m.journeys[k] {
			up = 1
		}
		fmt.Fprintf(w, "berth_journey_up{stack=%s,probe=%s} %d\n", quote(k[0]), quote(k[1]), up)
	}
}

func sortedPairs[V any](m map[[2]string]V) [][2]string {
	keys := make([][2]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+"\x00"+keys[i][1] < keys[j][0]+"\x00"+keys[j][1] })
	return keys
}
