package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// BenchmarkSoak runs `berth run` (the binary users run) for BERTH_SOAK
// (default 10m) while, every few seconds, a commit lands and is announced by
// a signed webhook, a container is removed by hand (drift), or an empty
// webhook arrives. It samples berth's goroutines (from /metrics), open files
// and resident memory every 20 s, logs the curve and reports start, middle
// and end. At the end every stack must be on the last commit: the soak did
// the work it claims.
func BenchmarkSoak(b *testing.B) {
	soak := 10 * time.Minute
	if v := os.Getenv("BERTH_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("BERTH_SOAK: %v", err)
		}
		soak = d
	}
	for b.Loop() {
		samples := runSoak(b, soak)
		first, mid, last := samples[0], samples[len(samples)/2], samples[len(samples)-1]
		b.ReportMetric(first.goroutines, "goroutines-start")
		b.ReportMetric(mid.goroutines, "goroutines-mid")
		b.ReportMetric(last.goroutines, "goroutines-end")
		b.ReportMetric(first.rssMB, "rss-MB-start")
		b.ReportMetric(mid.rssMB, "rss-MB-mid")
		b.ReportMetric(last.rssMB, "rss-MB-end")
		b.ReportMetric(first.fds, "fds-start")
		b.ReportMetric(last.fds, "fds-end")
	}
}

type soakSample struct {
	at                     time.Duration
	goroutines, fds, rssMB float64
}

func runSoak(b *testing.B, soak time.Duration) []soakSample {
	in := newInfraTB(b)
	names := []string{"a", "b", "c", "d"}
	stacks := map[string]*stack{}
	compose := func(gen int) string {
		return fmt.Sprintf("services:\n  web:\n    image: berthtest/app:1.0\n    restart: unless-stopped\n    environment:\n      GEN: \"%d\"\n", gen)
	}
	for _, n := range names {
		stacks[n] = in.project(n)
		in.write(n, "compose.yaml", compose(0))
	}
	head := in.commit("four stacks")
	secret := "soak-hook-secret"
	file := filepath.Join(b.TempDir(), "hook")
	if err := os.WriteFile(file, []byte(secret), 0o600); err != nil {
		b.Fatal(err)
	}
	run := in.startBerth("", "--generic-webhook-secret-file", file, "--poll", "5s", "--log-level", "warn")
	for _, n := range names {
		run.waitApplied(stacks[n].project, head, 2*time.Minute)
	}
	hook := func() {
		body := []byte(`{"ref":"refs/heads/main"}`)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		req, _ := http.NewRequest(http.MethodPost, "http://"+run.addr+"/hooks/generic", bytes.NewReader(body))
		req.Header.Set("X-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatalf("webhook: %v", err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			b.Fatalf("webhook answered %d, want 202", res.StatusCode)
		}
	}
	pid := run.cmd.Process.Pid
	sample := func(at time.Duration) soakSample {
		s := soakSample{at: at, goroutines: metricValue(b, run.addr, "go_goroutines")}
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			b.Fatal(err)
		}
		s.fds = float64(len(fds))
		s.rssMB = procStatusMB(b, pid, "VmRSS:")
		// Every sample, on stderr: the benchmark's own log keeps only ten lines.
		fmt.Fprintf(os.Stderr, "soak %6s goroutines %4.0f open files %4.0f rss %5.1f MB\n", at.Round(time.Second), s.goroutines, s.fds, s.rssMB)
		return s
	}
	start := time.Now()
	samples := []soakSample{sample(0)}
	gens := map[string]int{}
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	nextSample := 20 * time.Second
	commits, drifts, hooks := 0, 0, 0
	for i := 0; time.Since(start) < soak; i++ {
		<-tick.C
		n := names[(i/3)%len(names)]
		switch i % 3 {
		case 0: // a commit, announced by a webhook
			gens[n]++
			in.write(n, "compose.yaml", compose(gens[n]))
			head = in.commit(fmt.Sprintf("%s generation %d", n, gens[n]))
			hook()
			commits++
			hooks++
		case 1: // drift: a container removed by hand
			for _, c := range stacks[n].containers() {
				// berth may be replacing this very container: a removal the
				// engine refuses for that is no drift, and is not counted.
				if c.State == "running" {
					if _, err := in.cli.ContainerRemove(context.Background(), c.ID, client.ContainerRemoveOptions{Force: true}); err == nil {
						drifts++
					}
					break
				}
			}
		case 2: // a webhook with nothing new
			hook()
			hooks++
		}
		if at := time.Since(start); at >= nextSample {
			samples = append(samples, sample(at))
			nextSample += 20 * time.Second
		}
	}
	for _, n := range names {
		run.waitApplied(stacks[n].project, head, 2*time.Minute)
	}
	samples = append(samples, sample(time.Since(start)))
	fmt.Fprintf(os.Stderr, "soak of %s: %d commits, %d containers removed, %d webhooks\n", soak, commits, drifts, hooks)
	run.stop()
	return samples
}

// metricValue reads one unlabelled series from berth's /metrics.
func metricValue(b *testing.B, addr, name string) float64 {
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				b.Fatal(err)
			}
			return v
		}
	}
	b.Fatalf("%s not in /metrics", name)
	return 0
}

// procStatusMB reads a memory line (VmRSS:, VmHWM:) of /proc/PID/status in MB.
func procStatusMB(b *testing.B, pid int, key string) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}
