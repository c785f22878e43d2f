package controller

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/berth-gitops/berth/controller/reconcile"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
)

// scrape reads GET /metrics of c's public handler as Prometheus would.
func scrape(t *testing.T, c *Controller) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	c.PublicHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// series finds the series of family name with exactly labels.
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no %s in /metrics", name)
	}
	for _, m := range f.Metric {
		var got []string
		for _, l := range m.Label {
			got = append(got, l.GetName(), l.GetValue())
		}
		if slices.Equal(got, labels) {
			return m
		}
	}
	t.Fatalf("no %s%v in /metrics: %v", name, labels, f.Metric)
	return nil
}

func newMetricsController(t testing.TB, states ...store.StackState) *Controller {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, st := range states {
		if err := db.PutState(st); err != nil {
			t.Fatal(err)
		}
	}
	c, err := New(Options{Store: db, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMetricsOfAReconcile: a reconcile that stalls is counted as a history
// entry, observed in the reconcile histogram and shown in the stack state
// gauge, with the stack's labels.
func TestMetricsOfAReconcile(t *testing.T) {
	c := newMetricsController(t, store.StackState{Stack: "shop", State: StateInSync, Applied: cA, Good: cA, Attempted: cA})
	s := c.stacks["shop"]
	s.settle(gitsource.Commit{Hash: cB}, func(o *outcome) {
		s.fault(o, reconcile.Stalling(errors.New(`service "web": field image: required`)))
	})
	fams := scrape(t, c)
	if v := series(t, fams, "berth_deploys_total", "outcome", OutcomeStalled, "stack", "shop").GetCounter().GetValue(); v != 1 {
		t.Errorf("berth_deploys_total{stalled} = %g, want 1", v)
	}
	if n := series(t, fams, "berth_reconcile_duration_seconds", "stack", "shop").GetHistogram().GetSampleCount(); n != 1 {
		t.Errorf("reconcile histogram count %d, want 1", n)
	}
	if n := series(t, fams, "berth_deploy_duration_seconds", "stack", "shop").GetHistogram().GetSampleCount(); n != 1 {
		t.Errorf("deploy histogram count %d, want 1", n)
	}
	if v := series(t, fams, "berth_stack_state", "stack", "shop", "state", StateStalled).GetGauge().GetValue(); v != 1 {
		t.Errorf("berth_stack_state = %g, want 1", v)
	}
	if len(fams["berth_stack_state"].Metric) != 1 {
		t.Errorf("berth_stack_state has %d series, want one per stack", len(fams["berth_stack_state"].Metric))
	}
	if f := fams["berth_last_deploy_success_timestamp_seconds"]; f != nil {
		t.Errorf("a stall set the last successful deploy: %v", f.Metric)
	}
	if f := fams["berth_rollbacks_total"]; f != nil {
		t.Errorf("a stall counted a rollback: %v", f.Metric)
	}
}

// TestMetricsSeries: each method sets its series, and the Go and process
// collectors are served with berth's own.
func TestMetricsSeries(t *testing.T) {
	c := newMetricsController(t)
	m := c.metrics
	before := time.Now()
	m.fetch(true, 300*time.Millisecond)
	m.fetch(false, 2*time.Second)
	m.deploy("shop", OutcomeSucceeded, 12*time.Second, time.Unix(1_700_000_000, 0))
	m.rollback("shop", true)
	m.rollback("shop", false)
	c.WebhookHandled("github", "accepted", time.Millisecond)
	c.WebhookHandled("github", "rejected", time.Millisecond)
	c.WebhookHandled("github", "rejected", time.Millisecond)
	m.RestartSeen("shop", "web")
	m.RestartSeen("shop", "web")
	m.OOMKilled("shop", "worker")
	m.SetPressure("disk", "/var/lib/docker", 0.91)
	m.SetJourneyUp("shop", "checkout", false)
	m.SetJourneyUp("shop", "login", true)
	fams := scrape(t, c)

	counters := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"berth_fetches_total", nil, 2},
		{"berth_fetch_failures_total", nil, 1},
		{"berth_deploys_total", []string{"outcome", OutcomeSucceeded, "stack", "shop"}, 1},
		{"berth_rollbacks_total", []string{"outcome", "succeeded", "stack", "shop"}, 1},
		{"berth_rollbacks_total", []string{"outcome", "failed", "stack", "shop"}, 1},
		{"berth_webhooks_total", []string{"provider", "github", "result", "accepted"}, 1},
		{"berth_webhooks_total", []string{"provider", "github", "result", "rejected"}, 2},
		{"berth_container_restarts_total", []string{"service", "web", "stack", "shop"}, 2},
		{"berth_container_oom_kills_total", []string{"service", "worker", "stack", "shop"}, 1},
	}
	for _, w := range counters {
		if got := series(t, fams, w.name, w.labels...).GetCounter().GetValue(); got != w.want {
			t.Errorf("%s%v = %g, want %g", w.name, w.labels, got, w.want)
		}
	}
	gauges := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"berth_last_deploy_success_timestamp_seconds", []string{"stack", "shop"}, 1_700_000_000},
		{"berth_host_pressure_ratio", []string{"path", "/var/lib/docker", "resource", "disk"}, 0.91},
		{"berth_journey_up", []string{"probe", "checkout", "stack", "shop"}, 0},
		{"berth_journey_up", []string{"probe", "login", "stack", "shop"}, 1},
	}
	for _, w := range gauges {
		if got := series(t, fams, w.name, w.labels...).GetGauge().GetValue(); got != w.want {
			t.Errorf("%s%v = %g, want %g", w.name, w.labels, got, w.want)
		}
	}
	if last := series(t, fams, "berth_last_fetch_success_timestamp_seconds").GetGauge().GetValue(); last < float64(before.Unix()) {
		t.Errorf("last fetch success %g, before the fetch at %d", last, before.Unix())
	}
	fetch := series(t, fams, "berth_fetch_duration_seconds").GetHistogram()
	if fetch.GetSampleCount() != 2 || fetch.GetSampleSum() != 2.3 {
		t.Errorf("fetch histogram count %d sum %g, want 2 and 2.3", fetch.GetSampleCount(), fetch.GetSampleSum())
	}
	if n := series(t, fams, "berth_webhook_duration_seconds", "provider", "github", "result", "rejected").GetHistogram().GetSampleCount(); n != 2 {
		t.Errorf("webhook histogram count %d, want 2", n)
	}
	if n := series(t, fams, "berth_deploy_duration_seconds", "stack", "shop").GetHistogram().GetSampleSum(); n != 12 {
		t.Errorf("deploy histogram sum %g, want 12", n)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if v := series(t, fams, name).GetGauge().GetValue(); v <= 0 {
			t.Errorf("%s = %g, want > 0", name, v)
		}
	}

	m.deploy("shop", OutcomeRemoved, 0, time.Now())
	if f := scrape(t, c)["berth_last_deploy_success_timestamp_seconds"]; f != nil {
		t.Errorf("a removed stack keeps its last deploy: %v", f.Metric)
	}
}

// TestMetricsPerController: two controllers in one process count apart.
func TestMetricsPerController(t *testing.T) {
	a, b := newMetricsController(t), newMetricsController(t)
	a.metrics.fetch(true, time.Second)
	if v := series(t, scrape(t, a), "berth_fetches_total").GetCounter().GetValue(); v != 1 {
		t.Errorf("first controller: %g fetches, want 1", v)
	}
	if v := series(t, scrape(t, b), "berth_fetches_total").GetCounter().GetValue(); v != 0 {
		t.Errorf("second controller: %g fetches, want 0", v)
	}
}

// BenchmarkScrape20 is one scrape of /metrics with 20 stacks, each with a
// deploy and a reconcile counted: what a Prometheus server costs berth every
// scrape interval.
func BenchmarkScrape20(b *testing.B) {
	var states []store.StackState
	for i := range 20 {
		states = append(states, store.StackState{Stack: fmt.Sprintf("s%02d", i), State: StateInSync, Applied: cA, Good: cA})
	}
	c := newMetricsController(b, states...)
	for _, st := range states {
		c.metrics.deploy(st.Stack, OutcomeSucceeded, 5*time.Second, time.Now())
		c.metrics.reconciled(st.Stack, 20*time.Millisecond)
	}
	c.metrics.fetch(true, 50*time.Millisecond)
	h := c.PublicHandler()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
