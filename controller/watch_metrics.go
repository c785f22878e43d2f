package controller

// watchMetrics are the gauges of what berth watches between deploys; the
// metrics type implements them (metrics_hooks.go).
type watchMetrics interface {
	SetPressure(resource, path string, ratio float64)
	SetJourneyUp(stack, probe string, up bool)
}

var _ watchMetrics = (*metrics)(nil)
