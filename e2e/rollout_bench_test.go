package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/e2e/testenv"
)

// benchStack is a stack for a benchmark, with a unique project name so that
// it never meets another run's.
func benchStack(b *testing.B, compose string) *stack {
	b.Helper()
	cli := testenv.Engine(b)
	testenv.BuildImages(b, cli, "berthtest/app:1.0", "berthtest/app:1.1")
	project := testenv.UniqueProject(b)
	testenv.Cleanup(b, cli, project)
	dir := filepath.Join(b.TempDir(), project)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	s := &stack{t: b, cli: cli, dir: dir, project: project}
	s.write("compose.yaml", compose)
	return s
}

// gateFailedAt runs berth apply with JSON logs and returns when its gate
// failed, by the log line's own clock, and when berth exited.
func (s *stack) gateFailedAt() (failed, exited time.Time) {
	s.t.Helper()
	cmd := exec.Command(berthBin, "--log-format", "json", "apply", "--settle", "1s", "-p", s.project, s.dir)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		var line struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "gate failed" {
			failed = line.Time
		}
	}
	err = cmd.Wait()
	exited = time.Now()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || failed.IsZero() {
		s.t.Fatalf("berth apply: %v, gate failed at %v: want exit 1 after a failed gate", err, failed)
	}
	return failed, exited
}

// restoreCompose is web 1.0 behind a published port and a health gate with
// a 3 s timeout: its start_period keeps a new version that never answers
// "starting", so the gate fails by its timeout, not by an unhealthy status.
const restoreCompose = `services:
  web:
    image: berthtest/app:1.0
    ports: ["127.0.0.1:${WEB_PORT}:8080"]
    healthcheck:
      test: ["CMD", "/app", "health"]
      interval: 500ms
      timeout: 1s
      retries: 3
      start_period: 60s
    x-berth:
      health_timeout: 3s
`

// BenchmarkRolloutRestoreStopFirst: a new version that never becomes healthy
// (it listens only after an hour) fails its 3 s gate (gate-s: the time to
// the failed gate). restore-ms is the time from the failed gate to berth's
// exit, with the old container started again under its name; serving-ms is
// the time to the old version answering on the published port again.
func BenchmarkRolloutRestoreStopFirst(b *testing.B) {
	s := benchStack(b, restoreCompose)
	port := freePortB(b)
	s.write(".env", fmt.Sprintf("WEB_PORT=%d\n", port))
	s.mustBerth(0, "apply", "--settle", "1s")
	good := s.read("compose.yaml")
	bad := strings.Replace(good, "image: berthtest/app:1.0", "image: berthtest/app:1.1\n    environment: {START_DELAY: 1h}", 1)
	url := fmt.Sprintf("http://127.0.0.1:%d/version", port)
	var restore, serving, gate time.Duration
	for b.Loop() {
		s.write("compose.yaml", bad)
		back := pollServing(url, "1.0")
		start := time.Now()
		failed, exited := s.gateFailedAt()
		at := <-back
		if at.IsZero() {
			b.Fatal("the previous version did not answer again")
		}
		restore += exited.Sub(failed)
		serving += at.Sub(failed)
		gate += failed.Sub(start)
		s.write("compose.yaml", good)
	}
	b.ReportMetric(float64(restore.Milliseconds())/float64(b.N), "restore-ms")
	b.ReportMetric(float64(serving.Milliseconds())/float64(b.N), "serving-ms")
	b.ReportMetric(gate.Seconds()/float64(b.N), "gate-s")
}

// BenchmarkRolloutRestoreStartFirst: the same bad version of a service
// without a published port rolls start-first: the old container never
// stops, so no request fails; restore-ms is the time from the failed gate
// to berth's exit with the old container back under its name.
func BenchmarkRolloutRestoreStartFirst(b *testing.B) {
	compose := strings.Replace(restoreCompose, "    ports: [\"127.0.0.1:${WEB_PORT}:8080\"]\n", "", 1) + `  client:
    image: berthtest/app:1.0
    command: ["load", "http://web:8080/version", "20ms"]
    x-berth: {stability: 1s}
`
	s := benchStack(b, compose)
	s.mustBerth(0, "apply", "--settle", "1s")
	good := s.read("compose.yaml")
	bad := strings.Replace(good, "  web:\n    image: berthtest/app:1.0", "  web:\n    image: berthtest/app:1.1\n    environment: {START_DELAY: 1h}", 1)
	client := s.name("client", 1)
	_, failedBefore, _ := loadCounts(s.logsOf(client))
	var restore, gate time.Duration
	for b.Loop() {
		s.write("compose.yaml", bad)
		start := time.Now()
		failed, exited := s.gateFailedAt()
		restore += exited.Sub(failed)
		gate += failed.Sub(start)
		s.write("compose.yaml", good)
	}
	_, failedAfter, _ := loadCounts(s.logsOf(client))
	b.ReportMetric(float64(restore.Milliseconds())/float64(b.N), "restore-ms")
	b.ReportMetric(gate.Seconds()/float64(b.N), "gate-s")
	b.ReportMetric(float64(failedAfter-failedBefore), "failed-requests")
}

// pollServing GETs url every 5 ms until it answers want (the time it did is
// sent), for at most a minute (then the zero time).
func pollServing(url, want string) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		c := &http.Client{Timeout: 100 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
		deadline := time.Now().Add(time.Minute)
		down := false
		for time.Now().Before(deadline) {
			resp, err := c.Get(url)
			ok := false
			if err == nil {
				buf := make([]byte, 64)
				n, _ := resp.Body.Read(buf)
				resp.Body.Close()
				ok = strings.TrimSpace(string(buf[:n])) == want
			}
			// Wait for the old version to go down first (stop-first), then
			// for it to answer again.
			if !ok {
				down = true
			} else if down {
				out <- time.Now()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		out <- time.Time{}
	}()
	return out
}

func freePortB(b *testing.B) int {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// twentyServicesCompose is the 20-service stack of the benchmarks: each
// service with a healthcheck, an environment, a restart policy and a memory
// limit, half of them on a shared named volume, all on a custom network.
func twentyServicesCompose() string {
	var y strings.Builder
	y.WriteString("services:\n")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&y, "  svc%02d:\n    image: berthtest/app:1.0\n    restart: unless-stopped\n    environment:\n      ROLE: svc%02d\n      GEN: \"0\"\n    networks: [backend]\n    mem_limit: 64m\n    healthcheck:\n      test: [\"CMD\", \"/app\", \"health\"]\n      interval: 2s\n", i, i)
		if i%2 == 0 {
			y.WriteString("    volumes: [data:/data]\n")
		}
	}
	y.WriteString("volumes:\n  data: {}\nnetworks:\n  backend: {}\n")
	return y.String()
}

// BenchmarkRolloutOneChange20 against BenchmarkRolloutComposeWaitOneChange20:
// one service of twenty changes; berth apply rolls it start-first behind its
// health gate (and a 1 s drain), docker compose up -d --wait recreates it
// stop-first and waits for it to be healthy.
func BenchmarkRolloutOneChange20(b *testing.B) {
	s := benchStack(b, twentyServicesCompose())
	start := time.Now()
	s.mustBerth(0, "apply")
	first := time.Since(start)
	gen := 0
	for b.Loop() {
		b.StopTimer()
		s.bumpGeneration(&gen)
		b.StartTimer()
		s.mustBerth(0, "apply")
	}
	b.ReportMetric(first.Seconds(), "first-deploy-s")
}

func BenchmarkRolloutComposeWaitOneChange20(b *testing.B) {
	composeCLI(b)
	s := benchStack(b, twentyServicesCompose())
	start := time.Now()
	s.compose("up", "-d", "--wait")
	first := time.Since(start)
	gen := 0
	for b.Loop() {
		b.StopTimer()
		s.bumpGeneration(&gen)
		b.StartTimer()
		s.compose("up", "-d", "--wait")
	}
	b.ReportMetric(first.Seconds(), "first-deploy-s")
}

// loadCompose is web behind its service name with a client sending a
// request every 20 ms, for the failed-request comparison.
const loadCompose = `services:
  web:
    image: berthtest/app:1.0
    healthcheck:
      test: ["CMD", "/app", "health"]
      interval: 500ms
      timeout: 1s
      retries: 3
  client:
    image: berthtest/app:1.0
    command: ["load", "http://web:8080/", "20ms"]
    x-berth: {stability: 1s}
`

// BenchmarkRolloutFailedRequestsBerth against
// BenchmarkRolloutFailedRequestsCompose: web's image changes back and forth
// while the client sends requests; failed-requests is per change.
func BenchmarkRolloutFailedRequestsBerth(b *testing.B) {
	benchFailedRequests(b, func(s *stack) { s.mustBerth(0, "apply", "--settle", "1s") })
}

func BenchmarkRolloutFailedRequestsCompose(b *testing.B) {
	composeCLI(b)
	benchFailedRequests(b, func(s *stack) { s.compose("up", "-d") })
}

func benchFailedRequests(b *testing.B, change func(*stack)) {
	s := benchStack(b, loadCompose)
	s.mustBerth(0, "apply", "--settle", "1s")
	client := s.name("client", 1)
	tags := []string{"berthtest/app:1.0", "berthtest/app:1.1"}
	i := 0
	var failed, ok int
	for b.Loop() {
		b.StopTimer()
		s.edit("compose.yaml", "  web:\n    image: "+tags[i%2], "  web:\n    image: "+tags[(i+1)%2])
		i++
		_, f0, _ := loadCounts(s.logsOf(client))
		o0, _, _ := loadCounts(s.logsOf(client))
		b.StartTimer()
		change(s)
		b.StopTimer()
		time.Sleep(2 * time.Second) // requests after the change count too
		o1, f1, _ := loadCounts(s.logsOf(client))
		failed, ok = failed+f1-f0, ok+o1-o0
		b.StartTimer()
	}
	b.ReportMetric(float64(failed)/float64(b.N), "failed-requests")
	b.ReportMetric(float64(ok)/float64(b.N), "ok-requests")
}
