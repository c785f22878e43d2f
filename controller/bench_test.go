package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/berth-gitops/berth/compose/observe"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/e2e/testenv"
	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/gitsource/gittest"
)

// BenchmarkPollInSync20 is one poll of a controller whose 20 stacks are in
// sync on the real engine: a fetch that finds nothing new and one container
// list per stack. It reports the CPU time of the process per poll.
func BenchmarkPollInSync20(b *testing.B) {
	benchPollInSync(b, 20, 1, "")
}

// BenchmarkCycle100x10 is one cycle of a controller following 100 stacks
// of 10 containers each (1,000 containers) in sync. The containers have no
// network, so the engine's address pools are not the limit. Besides wall
// time, CPU and allocations per cycle it reports the process's peak
// resident memory (VmHWM, which includes the test binary).
func BenchmarkCycle100x10(b *testing.B) {
	benchPollInSync(b, 100, 10, "    network_mode: none\n    x-berth: {parallelism: 10, stability: 0s}\n")
}

func benchPollInSync(b *testing.B, stacks, replicas int, extra string) {
	cli := testenv.Engine(b)
	testenv.BuildImages(b, cli, "berthtest/app:1.0")
	prefix := testenv.UniqueProject(b)
	work := gittest.NewRepo(b)
	for i := range stacks {
		name := fmt.Sprintf("%s-%02d", prefix, i)
		testenv.Cleanup(b, cli, name)
		scale := ""
		if replicas > 1 {
			scale = fmt.Sprintf("    scale: %d\n", replicas)
		}
		work.Write("stacks/"+name+"/compose.yaml", "services:\n  app:\n    image: berthtest/app:1.0\n    restart: unless-stopped\n"+scale+extra+"    environment:\n      N: \""+fmt.Sprint(i)+"\"\n")
	}
	work.Commit(fmt.Sprintf("%d stacks", stacks))
	work.Push()
	ctx := context.Background()
	data := b.TempDir()
	src, err := gitsource.Open(ctx, gitsource.Options{URL: work.Remote, Dir: filepath.Join(data, "repo"), Branch: "main"})
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(filepath.Join(data, "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	engine, err := observe.Connect(ctx)
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(Options{Source: src, Engine: engine, Store: db, Schedule: cron.Every(time.Minute), Path: "stacks", Host: "bench",
		StacksDir: filepath.Join(data, "stacks"), APIVersion: engine.ClientVersion()})
	if err != nil {
		b.Fatal(err)
	}
	deploy := time.Now()
	c.Once(ctx) // the first deploy
	b.Logf("%d stacks of %d containers deployed in %s", stacks, replicas, time.Since(deploy).Round(time.Millisecond))
	c.Once(ctx) // loads nothing new; warms the caches
	for _, st := range c.Status().Stacks {
		if st.State != StateInSync {
			b.Fatalf("stack %s is %s: %s", st.Stack, st.State, st.Error)
		}
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		c.Once(ctx)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	b.ReportMetric(peakRSS(b), "peak-rss-MB")
}

// peakRSS is the process's peak resident memory in MB.
func peakRSS(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
