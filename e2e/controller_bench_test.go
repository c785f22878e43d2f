package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/e2e/testenv"
)

// BenchmarkRunIdleRSS20 measures the resident memory of `berth run` (the
// binary users run, without the race detector) following a repo of 20
// stacks, all in sync, after ten idle polls. Target: 30 MB.
func BenchmarkRunIdleRSS20(b *testing.B) {
	for b.Loop() {
		rss := idleRSS(b)
		b.ReportMetric(rss, "rss-MB")
	}
}

func idleRSS(b *testing.B) float64 {
	b.Helper()
	in := newInfraTB(b)
	var names []string
	for i := range 20 {
		name := fmt.Sprintf("s%02d", i)
		in.project(name)
		in.write(name, "compose.yaml", "services:\n  app:\n    image: berthtest/app:1.0\n    restart: unless-stopped\n    environment:\n      N: \""+fmt.Sprint(i)+"\"\n")
		names = append(names, in.stack(name))
	}
	head := in.commit("20 stacks")
	run := in.startBerth("")
	for _, n := range names {
		run.waitApplied(n, head, 3*time.Minute)
	}
	time.Sleep(10 * time.Second)
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", run.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			run.stop()
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// BenchmarkRunCrashLoopCPU20 measures the CPU time of `berth run` (the
// binary users run) following 20 stacks in sync, over a minute of quiet and
// then over a minute in which one stack's container crash-loops (it exits
// two seconds after each start, once past berth's stability window, and
// the engine restarts it): what following the engine's events costs when a
// container misbehaves.
func BenchmarkRunCrashLoopCPU20(b *testing.B) {
	for b.Loop() {
		quiet, looping, restarts := crashLoopCPU(b)
		b.ReportMetric(quiet, "quiet-cpu-ms/min")
		b.ReportMetric(looping, "crashloop-cpu-ms/min")
		b.ReportMetric(restarts, "restarts")
	}
}

func crashLoopCPU(b *testing.B) (quiet, looping, restarts float64) {
	b.Helper()
	in := newInfraTB(b)
	testenv.BuildImages(b, in.cli, watchImage)
	var names []string
	for i := range 20 {
		name := fmt.Sprintf("s%02d", i)
		in.project(name)
		in.write(name, "compose.yaml", "services:\n  app:\n    image: berthtest/app:1.0\n    restart: unless-stopped\n    environment:\n      N: \""+fmt.Sprint(i)+"\"\n")
		names = append(names, in.stack(name))
	}
	head := in.commit("20 stacks")
	run := in.startBerth("")
	for _, n := range names {
		run.waitApplied(n, head, 3*time.Minute)
	}
	pid := run.cmd.Process.Pid
	start := procCPU(b, pid)
	time.Sleep(time.Minute) // the span measured, not a proof of anything
	quiet = float64(procCPU(b, pid)-start) / float64(time.Millisecond)

	in.write("s00", "compose.yaml", "services:\n  app:\n    image: "+watchImage+"\n    restart: always\n    environment:\n      EXIT_AFTER: 2s\n      EXIT_CODE: \"3\"\n")
	loop := in.commit("s00 crash-loops")
	run.waitFor("the crash-looping stack deployed", 3*time.Minute, func() bool {
		return run.stackState(names[0]).Attempted == loop
	})
	before := metricValueTB(b, run.addr, "berth_container_restarts_total")
	start = procCPU(b, pid)
	time.Sleep(time.Minute)
	looping = float64(procCPU(b, pid)-start) / float64(time.Millisecond)
	restarts = metricValueTB(b, run.addr, "berth_container_restarts_total") - before
	if restarts < 2 {
		b.Fatalf("berth counted %.0f restarts in the minute; the container did not crash-loop", restarts)
	}
	run.stop()
	return quiet, looping, restarts
}

// procCPU is the user and system CPU time a process used so far.
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// after its closing parenthesis (utime and stime are fields 14 and 15).
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// metricValueTB sums every series of a metric on berth's /metrics.
func metricValueTB(b *testing.B, addr, name string) float64 {
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.Fatal(err)
	}
	sum := 0.0
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && (f[0] == name || strings.HasPrefix(f[0], name+"{")) {
			v, _ := strconv.ParseFloat(f[1], 64)
			sum += v
		}
	}
	return sum
}
