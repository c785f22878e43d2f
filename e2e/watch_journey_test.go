package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/controller"
)

// kindSink is a generic notification webhook receiver that counts the
// events it is sent.
type kindSink struct {
	mu     sync.Mutex
	events []map[string]any
}

func (s *kindSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev map[string]any
	body, _ := io.ReadAll(r.Body)
	if json.Unmarshal(body, &ev) == nil {
		s.mu.Lock()
		s.events = append(s.events, ev)
		s.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

// count is the number of events of kind whose subject starts with subject
// (any subject when it is "").
func (s *kindSink) count(kind, subject string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ev := range s.events {
		sub, _ := ev["subject"].(string)
		if ev["kind"] == kind && strings.HasPrefix(sub, subject) {
			n++
		}
	}
	return n
}

func (s *kindSink) dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	js, _ := json.MarshalIndent(s.events, "", "  ")
	return string(js)
}

const journeyCompose = `services:
  web:
    image: berthtest/app:1.0
    healthcheck:
      test: ["CMD", "/app", "health"]
      interval: 500ms
      timeout: 1s
      retries: 3
x-berth:
  watch: 10s
  watch_failures: 2
  verify:
    - http: {url: "http://web:8080/version", timeout: 1s, retries: 1}
`

// TestWatchJourney: a stack's verify probe, scheduled by x-berth watch,
// breaks between deploys (its container is paused): after two misses in a
// row exactly one journey_failing alert reaches the webhook sink, however
// many runs follow, and once the container serves again exactly one
// journey_recovered.
func TestWatchJourney(t *testing.T) {
	in := newInfra(t)
	app := in.project("app")
	in.write("app", "compose.yaml", journeyCompose)
	head := in.commit("web with a scheduled journey")
	sink := &kindSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	// drift warn: the paused container is the fault under test, not drift
	// for berth to put right.
	run := in.startBerth("", append(notifyArgs(t, srv.URL), "--drift", "warn")...)
	run.waitApplied(app.project, head, 90*time.Second)

	runs := func() (n int, failing bool) {
		st, err := run.status()
		if err != nil {
			return 0, false
		}
		for _, j := range st.Journeys {
			if j.Stack == app.project {
				return j.Runs, j.Failing
			}
		}
		return 0, false
	}
	run.waitFor("a first journey run", 60*time.Second, func() bool { n, _ := runs(); return n >= 1 })
	if n := sink.count("journey_failing", ""); n != 0 {
		t.Fatalf("journey_failing while the stack serves: %d\n%s", n, sink.dump())
	}

	web := app.name("web", 1)
	ctx := context.Background()
	if _, err := in.cli.ContainerPause(ctx, web, client.ContainerPauseOptions{}); err != nil {
		t.Fatal(err)
	}
	unpaused := false
	defer func() {
		if !unpaused {
			in.cli.ContainerUnpause(ctx, web, client.ContainerUnpauseOptions{})
		}
	}()
	run.waitFor("journey_failing", 90*time.Second, func() bool { return sink.count("journey_failing", "GET http://web:8080/version") >= 1 })
	failedAt, _ := runs()
	run.waitFor("two more runs while failing", 60*time.Second, func() bool { n, _ := runs(); return n >= failedAt+2 })
	// The notifier drops a duplicate within its window too: the log says
	// what berth itself decided.
	if n, m := sink.count("journey_failing", ""), logLines(run.logs(), `"msg":"journey failing"`); n != 1 || m != 1 {
		t.Errorf("journey_failing sent %d times and logged %d times over several failing runs, want once\n%s", n, m, sink.dump())
	}

	if _, err := in.cli.ContainerUnpause(ctx, web, client.ContainerUnpauseOptions{}); err != nil {
		t.Fatal(err)
	}
	unpaused = true
	run.waitFor("journey_recovered", 60*time.Second, func() bool { return sink.count("journey_recovered", "") >= 1 })
	recoveredAt, _ := runs()
	run.waitFor("two more passing runs", 60*time.Second, func() bool { n, _ := runs(); return n >= recoveredAt+2 })
	if n, m := sink.count("journey_recovered", ""), logLines(run.logs(), `"msg":"journey recovered"`); n != 1 || m != 1 {
		t.Errorf("journey_recovered sent %d times and logged %d times, want once\n%s", n, m, sink.dump())
	}
	if _, failing := runs(); failing {
		t.Error("status still shows the journey failing")
	}
	metrics := httpGet(t, "http://"+run.addr+"/metrics")
	if want := `berth_journey_up{probe="GET http://web:8080/version",stack="` + app.project + `"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}

	t.Log("a watch below the least stalls its commit, naming the key, and the live stack stays")
	in.write("app", "compose.yaml", strings.Replace(journeyCompose, "watch: 10s", "watch: 5s", 1))
	bad := in.commit("watch too often")
	run.waitFor("stalled", 60*time.Second, func() bool {
		s := run.stackState(app.project)
		return s.State == controller.StateStalled && s.Attempted == bad
	})
	if s := run.stackState(app.project); s.Applied != head || !strings.Contains(s.Error, "x-berth.watch: 5s: want 10s or more") {
		t.Errorf("stalled stack: applied %s, error %q", s.Applied, s.Error)
	}
}

// TestWatchHostPressure: with thresholds this machine's data dir is over
// (warning at 1 %, critical at 2 %), one warning and one critical alert
// name it, and they are not repeated over further readings; berth started
// again with thresholds it is under sends one recovery.
func TestWatchHostPressure(t *testing.T) {
	in := newInfra(t)
	in.work.Write("stacks/.keep", "")
	in.commit("no stacks yet")
	sink := &kindSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	dataDir := filepath.Join(t.TempDir(), "data")
	args := append(notifyArgs(t, srv.URL), "--pressure-interval", "1s")
	run := in.startBerth(dataDir, append(args, "--pressure-warning", "1", "--pressure-critical", "2")...)
	subject := "disk " + dataDir
	checks := func() int {
		st, err := run.status()
		if err != nil || st.Pressure == nil {
			return 0
		}
		return st.Pressure.Checks
	}
	run.waitFor("warning and critical alerts", 60*time.Second, func() bool {
		return sink.count("host_pressure_warning", subject) == 1 && sink.count("host_pressure_critical", subject) == 1
	})
	seen := checks()
	run.waitFor("three more readings", 60*time.Second, func() bool { return checks() >= seen+3 })
	for _, kind := range []string{"host_pressure_warning", "host_pressure_critical"} {
		if n := sink.count(kind, subject); n != 1 {
			t.Errorf("%s for %s sent %d times, want once\n%s", kind, subject, n, sink.dump())
		}
	}
	// One move of the level, logged once (the notifier would hide repeats).
	if n := logLines(run.logs(), `"msg":"host pressure"`, `"resource":"disk"`, `"path":"`+dataDir+`"`); n != 1 {
		t.Errorf("the data dir's level moved %d times, want once:\n%s", n, run.logs())
	}
	st, err := run.status()
	if err != nil {
		t.Fatal(err)
	}
	if !hasReading(st.Pressure, controller.ResourceDisk, dataDir, "critical") || !hasReading(st.Pressure, controller.ResourceMemory, "", "") {
		t.Errorf("status readings: %+v", st.Pressure)
	}
	run.stop()

	run = in.startBerth(dataDir, append(args, "--pressure-warning", "99", "--pressure-critical", "100")...)
	run.waitFor("recovery", 60*time.Second, func() bool { return sink.count("host_pressure_recovered", subject) == 1 })
	seen = checks()
	run.waitFor("three more readings", 60*time.Second, func() bool { return checks() >= seen+3 })
	if n := sink.count("host_pressure_recovered", subject); n != 1 {
		t.Errorf("recovery sent %d times, want once\n%s", n, sink.dump())
	}
	for _, kind := range []string{"host_pressure_warning", "host_pressure_critical"} {
		if n := sink.count(kind, subject); n != 1 {
			t.Errorf("after the restart %s for %s was sent again: %d in all", kind, subject, n)
		}
	}
}

// notifyArgs send berth's events to the generic webhook at url.
func notifyArgs(t *testing.T, url string) []string {
	secret := writeFile0600(t, filepath.Join(t.TempDir(), "hook"), "notify-hook-secret\n")
	return []string{"--notify-webhook-url", url + "/notify", "--notify-webhook-secret-file", secret}
}

// logLines counts the log lines that hold every one of parts.
func logLines(logs string, parts ...string) int {
	n := 0
	for _, line := range strings.Split(logs, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

func hasReading(p *controller.PressureStatus, resource, path, level string) bool {
	if p == nil {
		return false
	}
	for _, r := range p.Readings {
		if r.Resource == resource && r.Path == path && r.Error == "" && (level == "" || r.Level == level) {
			return true
		}
	}
	return false
}
