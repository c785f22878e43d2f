package controller

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the controller's series, served at GET /metrics. Each
// controller has its own registry rather than the library's global one, so
// that controllers built side by side (in tests) count apart. The series
// are listed in docs/metrics.md.
type metrics struct {
	reg  *prometheus.Registry
	http http.Handler

	deploys          *prometheus.CounterVec   // stack, outcome
	deploySeconds    *prometheus.HistogramVec // stack
	lastDeploy       *prometheus.GaugeVec     // stack
	rollbacks        *prometheus.CounterVec   // stack, outcome
	reconcileSeconds *prometheus.HistogramVec // stack

	fetches       prometheus.Counter
	fetchFailures prometheus.Counter
	fetchSeconds  prometheus.Histogram
	lastFetchOK   prometheus.Gauge
	cycleSeconds  prometheus.Gauge

	webhooks       *prometheus.CounterVec   // provider, result
	webhookSeconds *prometheus.HistogramVec // provider, result

	hooks // series that the engine's events, host pressure and journeys set
}

// Buckets in seconds. A deploy pulls and starts containers and waits for
// health: seconds to minutes. A reconcile with nothing to do is a few
// milliseconds. A fetch is a Git round trip; a webhook is answered at once.
var (
	deployBuckets    = []float64{1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200}
	reconcileBuckets = []float64{0.01, 0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	fetchBuckets     = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	webhookBuckets   = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}
)

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := factory{m.reg}
	m.deploys = f.counters("berth_deploys_total", "Deploys since start, by stack and outcome.", "stack", "outcome")
	m.deploySeconds = f.histograms("berth_deploy_duration_seconds", "How long deploys took, from the first engine operation to the outcome.", deployBuckets, "stack")
	m.lastDeploy = f.gauges("berth_last_deploy_success_timestamp_seconds", "When a deploy of the stack last succeeded (Unix time).", "stack")
	m.rollbacks = f.counters("berth_rollbacks_total", "Rollbacks after a failed verification, by stack and outcome (succeeded: the last good commit is live again; failed: it is not).", "stack", "outcome")
	m.reconcileSeconds = f.histograms("berth_reconcile_duration_seconds", "How long each reconcile of a stack took, with nothing to do or with a deploy.", reconcileBuckets, "stack")
	m.fetches = f.counter("berth_fetches_total", "Fetches of the Git repository since start.")
	m.fetchFailures = f.counter("berth_fetch_failures_total", "Failed fetches since start.")
	m.fetchSeconds = f.histogram("berth_fetch_duration_seconds", "How long fetches of the Git repository took, failed or not.", fetchBuckets)
	m.lastFetchOK = f.gauge("berth_last_fetch_success_timestamp_seconds", "When the last fetch succeeded (Unix time; 0: never).")
	m.cycleSeconds = f.gauge("berth_cycle_seconds", "How long the last cycle (fetch and reconcile of every stack) took.")
	m.webhooks = f.counters("berth_webhooks_total", "Webhook deliveries since start, by provider and result.", "provider", "result")
	m.webhookSeconds = f.histograms("berth_webhook_duration_seconds", "How long webhook deliveries took to check and answer, by provider and result.", webhookBuckets, "provider", "result")
	m.hooks = newHooks(f)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.http = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// factory makes series and registers them in one registry.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counters(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gauges(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histograms(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// deploy counts an entry of the stack's history; took is from the first
// engine operation to the outcome.
func (m *metrics) deploy(stack, outcome string, took time.Duration, end time.Time) {
	m.deploys.WithLabelValues(stack, outcome).Inc()
	m.deploySeconds.WithLabelValues(stack).Observe(took.Seconds())
	switch outcome {
	case OutcomeSucceeded, OutcomeDrift, OutcomeSecrets:
		m.lastDeploy.WithLabelValues(stack).Set(float64(end.UnixNano()) / 1e9)
	case OutcomeRemoved:
		// A stack that left the repo or this host has no last deploy
		// to watch; its counters stay, as history.
		m.lastDeploy.DeleteLabelValues(stack)
	}
}

// rollback counts a rollback after a failed verification.
func (m *metrics) rollback(stack string, ok bool) {
	outcome := "failed"
	if ok {
		outcome = "succeeded"
	}
	m.rollbacks.WithLabelValues(stack, outcome).Inc()
}

// reconciled observes one reconcile of a stack, from its start to its
// outcome written.
func (m *metrics) reconciled(stack string, took time.Duration) {
	m.reconcileSeconds.WithLabelValues(stack).Observe(took.Seconds())
}

// fetch counts a fetch of the repository, failed or not.
func (m *metrics) fetch(ok bool, took time.Duration) {
	m.fetches.Inc()
	m.fetchSeconds.Observe(took.Seconds())
	if ok {
		m.lastFetchOK.SetToCurrentTime()
	} else {
		m.fetchFailures.Inc()
	}
}

func (m *metrics) cycle(took time.Duration) { m.cycleSeconds.Set(took.Seconds()) }

// webhook counts a delivery that reached a provider's handler; result is
// its class (accepted, ping, ignored, rejected, refused), never text the
// sender chose.
func (m *metrics) webhook(provider, result string, took time.Duration) {
	m.webhooks.WithLabelValues(provider, result).Inc()
	m.webhookSeconds.WithLabelValues(provider, result).Observe(took.Seconds())
}

// WebhookHandled is the webhook handler's report of one delivery (see
// webhook.Config.Observe).
func (c *Controller) WebhookHandled(provider, result string, took time.Duration) {
	c.metrics.webhook(provider, result, took)
}

func (c *Controller) serveMetrics(w http.ResponseWriter, r *http.Request) {
	c.metrics.http.ServeHTTP(w, r)
}
