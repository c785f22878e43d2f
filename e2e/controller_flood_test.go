package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// floodTarget is a `berth run` with the generic webhook on, following a
// one-service stack that is deployed before the flood starts.
type floodTarget struct {
	run    *berthRun
	secret string
}

func startFloodTarget(tb testing.TB) floodTarget {
	tb.Helper()
	in := newInfraTB(tb)
	app := in.project("app")
	in.write("app", "compose.yaml", "services:\n  app:\n    image: berthtest/app:1.0\n    restart: unless-stopped\n")
	head := in.commit("app")
	secret := "flood-hook-secret-canary"
	file := filepath.Join(tb.TempDir(), "hook")
	if err := os.WriteFile(file, []byte(secret), 0o600); err != nil {
		tb.Fatal(err)
	}
	run := in.startBerth("", "--generic-webhook-secret-file", file, "--poll", "10m")
	run.waitApplied(app.project, head, 90*time.Second)
	return floodTarget{run: run, secret: secret}
}

// floodOutcome is what a flood came to: the answers to the unsigned
// requests by status (0: the connection failed, which a refusal that
// closes the connection while the body is still being sent can cause),
// and to the signed deliveries sent during the flood, in order.
type floodOutcome struct {
	unsigned map[int]int
	signed   []int
}

// flood sends n unsigned POSTs of size bytes each, all at once, and signed
// deliveries one after another (at least three, and until the last
// unsigned request is answered). Each unsigned request sends all of its
// body but the last byte and holds it until every other one has done the
// same or been answered, as an attacker would to make the server hold as
// many bodies as it reads at once.
func (f floodTarget) flood(tb testing.TB, n, size int) floodOutcome {
	tb.Helper()
	url := "http://" + f.run.addr + "/hooks/generic"
	// Each unsigned request has its own connection, as an attacker's would.
	floodClient := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	out := floodOutcome{unsigned: map[int]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	gate := newGate(n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := gate.reader()
			body := io.MultiReader(io.LimitReader(zeros{}, int64(size-1)), last)
			req, _ := http.NewRequest(http.MethodPost, url, body)
			req.ContentLength = int64(size)
			req.Header.Set("Content-Type", "application/json")
			status := 0
			if res, err := floodClient.Do(req); err == nil {
				status = res.StatusCode
				res.Body.Close()
			}
			last.arrive() // answered before its body reached the gate
			mu.Lock()
			out.unsigned[status]++
			mu.Unlock()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	signedClient := &http.Client{Timeout: time.Minute}
	body := []byte(`{"ref":"refs/heads/main"}`)
	mac := hmac.New(sha256.New, []byte(f.secret))
	mac.Write(body)
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	for i := 0; ; i++ {
		select {
		case <-done:
			if i >= 3 {
				return out
			}
		default:
		}
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
		req.Header.Set("X-Signature", sig)
		req.Header.Set("X-Delivery", fmt.Sprintf("flood-%d", i))
		status := 0
		if res, err := signedClient.Do(req); err == nil {
			status = res.StatusCode
			res.Body.Close()
		}
		out.signed = append(out.signed, status)
	}
}

// gate opens once n parties have arrived, or after a minute.
type gate struct {
	mu      sync.Mutex
	waiting int
	open    chan struct{}
}

func newGate(n int) *gate {
	g := &gate{waiting: n, open: make(chan struct{})}
	time.AfterFunc(time.Minute, g.release)
	return g
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// arrive counts one party in.
func (g *gate) arrive() {
	g.mu.Lock()
	g.waiting--
	last := g.waiting == 0
	g.mu.Unlock()
	if last {
		g.release()
	}
}

// reader is the last byte of a body: it arrives at the gate, waits for it
// to open, then gives the byte.
func (g *gate) reader() *gated {
	return &gated{g: g}
}

type gated struct {
	g       *gate
	arrived sync.Once
	given   bool
}

// arrive counts the request in at the gate, once.
func (r *gated) arrive() { r.arrived.Do(r.g.arrive) }

func (r *gated) Read(p []byte) (int, error) {
	if r.given {
		return 0, io.EOF
	}
	r.arrive()
	<-r.g.open
	r.given = true
	p[0] = '}'
	return 1, nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// peakRSS is the process's peak resident memory in MB (VmHWM).
func peakRSS(tb testing.TB, pid int) float64 {
	tb.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	tb.Fatal("no VmHWM")
	return 0
}

// TestControllerWebhookFlood: while 200 unsigned requests of 1 MiB each
// arrive at once, signed deliveries are still answered 202; every unsigned
// request is refused (401, or its connection closed while it was still
// sending the body), and an unsigned request is refused before its body
// is read: the 401 comes while the sender is still holding the body open.
func TestControllerWebhookFlood(t *testing.T) {
	f := startFloodTarget(t)

	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte(`{"ref":"refs/heads/`)) }() // and never the rest
	req, _ := http.NewRequest(http.MethodPost, "http://"+f.run.addr+"/hooks/generic", pr)
	req.ContentLength = 1 << 20
	res, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("an unsigned request whose body is still being sent: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !res.Close {
		t.Fatalf("an unsigned request whose body is still being sent: %d (close %v), want 401 and the connection closed", res.StatusCode, res.Close)
	}

	out := f.flood(t, 200, 1<<20)
	t.Logf("unsigned requests by answer (0: connection closed while sending): %v; signed deliveries: %v", out.unsigned, out.signed)
	for status, n := range out.unsigned {
		if status != http.StatusUnauthorized && status != 0 {
			t.Errorf("%d unsigned requests answered %d, want 401", n, status)
		}
	}
	for i, status := range out.signed {
		if status != http.StatusAccepted {
			t.Errorf("signed delivery %d during the flood answered %d, want 202", i, status)
		}
	}
	if !f.run.logHas("webhook", "rejected: no signature") {
		t.Error("the refusals are not in the log")
	}
}

// BenchmarkWebhookFlood measures berth's peak resident memory (VmHWM)
// while 1,000 unsigned requests of 1 MiB each arrive at once and signed
// deliveries keep coming; it reports too how many of those were answered
// 202. Target: under 100 MB, all signed deliveries accepted.
func BenchmarkWebhookFlood(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		f := startFloodTarget(b)
		before := peakRSS(b, f.run.cmd.Process.Pid)
		b.StartTimer()
		out := f.flood(b, 1000, 1<<20)
		b.StopTimer()
		accepted := 0
		for _, s := range out.signed {
			if s == http.StatusAccepted {
				accepted++
			}
		}
		peak := peakRSS(b, f.run.cmd.Process.Pid)
		b.ReportMetric(before, "rss-before-MB")
		b.ReportMetric(peak, "peak-rss-MB")
		b.ReportMetric(float64(accepted), "signed-accepted")
		b.ReportMetric(float64(len(out.signed)-accepted), "signed-failed")
		b.Logf("peak RSS %.1f MB (%.1f MB before); unsigned requests by answer (0: connection closed while sending): %v; signed deliveries: %v",
			peak, before, out.unsigned, out.signed)
		f.run.stop()
		b.StartTimer()
	}
}
