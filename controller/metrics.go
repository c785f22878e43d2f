package controller

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// metrics are the controller's counters, served at GET /metrics in the
// Prometheus text format. A handful of series do not justify the client
// library (and its dependencies); the format is a few lines of text.
type metrics struct {
	mu            sync.Mutex
	deploys       map[[2]string]int64 // stack, outcome → count
	deploySeconds map[string]float64  // stack → sum of deploy durations
	fetches       int64
	fetchFailures int64
	lastFetchOK   time.Time
	cycleSeconds  float64
	pressure      map[[2]string]float64 // resource, path → ratio
	journeys      map[[2]string]bool    // stack, probe → up
}

func newMetrics() *metrics {
	return &metrics{deploys: map[[2]string]int64{}, deploySeconds: map[string]float64{}}
}

func (m *metrics) deploy(stack, outcome string, took time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deploys[[2]string{stack, outcome}]++
	m.deploySeconds[stack] += took.Seconds()
}

func (m *metrics) fetch(ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fetches++
	if ok {
		m.lastFetchOK = time.Now()
	} else {
		m.fetchFailures++
	}
}

func (m *metrics) cycle(took time.Duration) {
	m.mu.Lock()
	m.cycleSeconds = took.Seconds()
	m.mu.Unlock()
}

// write renders the metrics and each stack's state.
func (m *metrics) write(w io.Writer, stacks []StackStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	help := func(name, kind, text string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, kind)
	}
	help("berth_stack_state", "gauge", "1 for each stack's current state.")
	for _, s := range stacks {
		fmt.Fprintf(w, "berth_stack_state{stack=%s,state=%s} 1\n", quote(s.Stack), quote(s.State))
	}
	help("berth_stack_failed_commit", "gauge", "1 while a stack has a commit that failed verification and is not retried.")
	for _, s := range stacks {
		failed := 0
		if s.Failed != "" {
			failed = 1
		}
		fmt.Fprintf(w, "berth_stack_failed_commit{stack=%s} %d\n", quote(s.Stack), failed)
	}
	help("berth_deploys_total", "counter", "Deploys since start, by stack and outcome.")
	keys := make([][2]string, 0, len(m.deploys))
	for k := range m.deploys {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+"\x00"+keys[i][1] < keys[j][0]+"\x00"+keys[j][1] })
	for _, k := range keys {
		fmt.Fprintf(w, "berth_deploys_total{stack=%s,outcome=%s} %d\n", quote(k[0]), quote(k[1]), m.deploys[k])
	}
	help("berth_deploy_seconds_total", "counter", "Time spent deploying since start, by stack.")
	names := make([]string, 0, len(m.deploySeconds))
	for n := range m.deploySeconds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "berth_deploy_seconds_total{stack=%s} %g\n", quote(n), m.deploySeconds[n])
	}
	help("berth_fetches_total", "counter", "Fetches of the Git repository since start.")
	fmt.Fprintf(w, "berth_fetches_total %d\n", m.fetches)
	help("berth_fetch_failures_total", "counter", "Failed fetches since start.")
	fmt.Fprintf(w, "berth_fetch_failures_total %d\n", m.fetchFailures)
	help("berth_last_fetch_success_timestamp_seconds", "gauge", "When the last fetch succeeded (Unix time; 0: never).")
	last := 0.0
	if !m.lastFetchOK.IsZero() {
		last = float64(m.lastFetchOK.UnixNano()) / 1e9
	}
	fmt.Fprintf(w, "berth_last_fetch_success_timestamp_seconds %g\n", last)
	help("berth_cycle_seconds", "gauge", "How long the last cycle (fetch and reconcile of every stack) took.")
	fmt.Fprintf(w, "berth_cycle_seconds %g\n", m.cycleSeconds)
	m.writeWatch(w)
	help("go_goroutines", "gauge", "Number of goroutines that currently exist.")
	fmt.Fprintf(w, "go_goroutines %d\n", runtime.NumGoroutine())
}

// quote is a label value in the text format's quoting.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s) + `"`
}

func (c *Controller) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	c.metrics.write(w, c.Status().Stacks)
	c.counters.write(w)
}
