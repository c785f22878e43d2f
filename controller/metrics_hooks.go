package controller

import "github.com/prometheus/client_golang/prometheus"

// hooks are the series of what berth watches besides its own loop: the
// containers' restarts and OOM kills (from the engine's events), the host's
// pressure and the stacks' journeys. They are registered with the others
// and set only by the features that watch these things.
type hooks struct {
	restarts *prometheus.CounterVec // stack, service
	ooms     *prometheus.CounterVec // stack, service
	pressure *prometheus.GaugeVec   // resource, path
	journeys *prometheus.GaugeVec   // stack, probe
}

func newHooks(f factory) hooks {
	return hooks{
		restarts: f.counters("berth_container_restarts_total", "Restarts of a service's containers seen since start.", "stack", "service"),
		ooms:     f.counters("berth_container_oom_kills_total", "OOM kills of a service's containers seen since start.", "stack", "service"),
		pressure: f.gauges("berth_host_pressure_ratio", "How full a host resource is, from 0 to 1 (disk and inodes by path, memory, load per core).", "resource", "path"),
		journeys: f.gauges("berth_journey_up", "1 while a stack's journey probe passes, 0 while it fails.", "stack", "probe"),
	}
}

// RestartSeen counts a restart of one of service's containers.
func (h hooks) RestartSeen(stack, service string) { h.restarts.WithLabelValues(stack, service).Inc() }

// OOMKilled counts an OOM kill of one of service's containers.
func (h hooks) OOMKilled(stack, service string) { h.ooms.WithLabelValues(stack, service).Inc() }

// SetPressure sets how full resource is at path (empty for memory and load).
func (h hooks) SetPressure(resource, path string, ratio float64) {
	h.pressure.WithLabelValues(resource, path).Set(ratio)
}

// SetJourneyUp sets whether a stack's journey probe passes.
func (h hooks) SetJourneyUp(stack, probe string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	h.journeys.WithLabelValues(stack, probe).Set(v)
}
