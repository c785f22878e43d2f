package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads berth's /metrics as Prometheus would.
func scrape(t testing.TB, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// metric is the series of family name whose labels are exactly labels
// (name, value, ... in name order), or nil.
func metric(fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	for _, m := range fams[name].GetMetric() {
		var got []string
		for _, l := range m.Label {
			got = append(got, l.GetName(), l.GetValue())
		}
		if slices.Equal(got, labels) {
			return m
		}
	}
	return nil
}

// mustMetric is metric, failing the test when the series is missing.
func mustMetric(t testing.TB, fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	t.Helper()
	m := metric(fams, name, labels...)
	if m == nil {
		t.Fatalf("no %s%q in /metrics; the family: %v", name, labels, fams[name].GetMetric())
	}
	return m
}

// TestControllerMetrics: after a real deploy, /metrics parses as the
// Prometheus text format and holds the deploy counter, the histograms, the
// stack's state, a webhook's count and the Go and process collectors, with
// the stack's labels and the values the deploy gave them.
func TestControllerMetrics(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", shopCompose)
	first := in.commit("shop")
	secret := "generic-hook-secret-canary"
	file := filepath.Join(t.TempDir(), "hook")
	if err := os.WriteFile(file, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	run := in.startBerth("", "--generic-webhook-secret-file", file)
	run.waitApplied(shop.project, first, 90*time.Second)
	stack := []string{"stack", shop.project}
	succeeded := []string{"outcome", "succeeded", "stack", shop.project}
	// The status is written before the history entry and its metrics.
	run.waitFor("the deploy counted", 10*time.Second, func() bool {
		return metric(scrape(t, run.addr), "berth_deploys_total", succeeded...) != nil
	})

	body := []byte(`{"ref":"refs/heads/main"}`)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, "http://"+run.addr+"/hooks/generic", bytes.NewReader(body))
	req.Header.Set("X-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook: %s", res.Status)
	}

	fams := scrape(t, run.addr)
	t.Log("the deploy: one success, timed, and the stack in sync")
	if v := mustMetric(t, fams, "berth_deploys_total", succeeded...).GetCounter().GetValue(); v != 1 {
		t.Errorf("berth_deploys_total%q = %g, want 1", succeeded, v)
	}
	deploys := mustMetric(t, fams, "berth_deploy_duration_seconds", stack...).GetHistogram()
	if deploys.GetSampleCount() != 1 || deploys.GetSampleSum() <= 0 {
		t.Errorf("deploy histogram: count %d sum %g, want 1 and > 0", deploys.GetSampleCount(), deploys.GetSampleSum())
	}
	if n := mustMetric(t, fams, "berth_reconcile_duration_seconds", stack...).GetHistogram().GetSampleCount(); n < 1 {
		t.Errorf("reconcile histogram count %d, want at least the deploy's", n)
	}
	if v := mustMetric(t, fams, "berth_stack_state", "stack", shop.project, "state", "in sync").GetGauge().GetValue(); v != 1 {
		t.Errorf("berth_stack_state in sync = %g, want 1", v)
	}
	if v := mustMetric(t, fams, "berth_stack_failed_commit", stack...).GetGauge().GetValue(); v != 0 {
		t.Errorf("berth_stack_failed_commit = %g, want 0", v)
	}
	last := mustMetric(t, fams, "berth_last_deploy_success_timestamp_seconds", stack...).GetGauge().GetValue()
	if last < float64(start.Unix()) || last > float64(time.Now().Unix()+1) {
		t.Errorf("last successful deploy at %g, not between %d and now", last, start.Unix())
	}
	if f := fams["berth_rollbacks_total"]; f != nil {
		t.Errorf("a successful deploy counted a rollback: %v", f.Metric)
	}

	t.Log("the fetches and the webhook")
	fetches := mustMetric(t, fams, "berth_fetches_total").GetCounter().GetValue()
	if fetches < 1 {
		t.Errorf("berth_fetches_total = %g", fetches)
	}
	// A fetch may land between the counter's and the histogram's update
	// while the scrape reads them: they differ by one at most.
	if n := float64(mustMetric(t, fams, "berth_fetch_duration_seconds").GetHistogram().GetSampleCount()); n < fetches-1 || n > fetches+1 {
		t.Errorf("fetch histogram count %g, want the %g fetches", n, fetches)
	}
	if v := mustMetric(t, fams, "berth_last_fetch_success_timestamp_seconds").GetGauge().GetValue(); v < float64(start.Unix()) {
		t.Errorf("last fetch success at %g, before berth started", v)
	}
	if v := mustMetric(t, fams, "berth_webhooks_total", "provider", "generic", "result", "accepted").GetCounter().GetValue(); v != 1 {
		t.Errorf("berth_webhooks_total accepted = %g, want 1", v)
	}
	if n := mustMetric(t, fams, "berth_webhook_duration_seconds", "provider", "generic", "result", "accepted").GetHistogram().GetSampleCount(); n != 1 {
		t.Errorf("webhook histogram count %d, want 1", n)
	}

	t.Log("the Go and process collectors describe the berth process")
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if v := mustMetric(t, fams, name).GetGauge().GetValue(); v <= 0 {
			t.Errorf("%s = %g, want > 0", name, v)
		}
	}
	if rss := mustMetric(t, fams, "process_resident_memory_bytes").GetGauge().GetValue(); rss < 1<<20 {
		t.Errorf("process_resident_memory_bytes = %g: not berth's", rss)
	}
	// Nothing crashed and no stack has a journey: those series are empty.
	// The host pressure watch reads the host at start.
	for _, name := range []string{"berth_container_restarts_total", "berth_container_oom_kills_total", "berth_journey_up"} {
		if f := fams[name]; f != nil {
			t.Errorf("%s is set with nothing watching: %v", name, f.Metric)
		}
	}
}
