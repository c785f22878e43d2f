package controller

import "github.com/prometheus/client_golang/prometheus"

// stackCollector reads each stack's state from the controller at scrape
// time, so the state series are the status itself rather than a second
// copy of it kept in step.
type stackCollector struct {
	status        func() Status
	state, failed *prometheus.Desc
}

func newStackCollector(status func() Status) *stackCollector {
	return &stackCollector{
		status: status,
		state: prometheus.NewDesc("berth_stack_state",
			"1 for each stack's current state.", []string{"stack", "state"}, nil),
		failed: prometheus.NewDesc("berth_stack_failed_commit",
			"1 while a stack has a commit that failed verification and is not retried.", []string{"stack"}, nil),
	}
}

func (c *stackCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.failed
}

func (c *stackCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.status().Stacks {
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, 1, s.Stack, s.State)
		failed := 0.0
		if s.Failed != "" {
			failed = 1
		}
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, failed, s.Stack)
	}
}
