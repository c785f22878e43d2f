package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
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
