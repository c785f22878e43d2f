package controller

import (
	"context"
	"fmt"
	"path/filepath"
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
	cli := testenv.Engine(b)
	testenv.BuildImages(b, cli, "berthtest/app:1.0")
	prefix := testenv.UniqueProject(b)
	work := gittest.NewRepo(b)
	for i := range 20 {
		name := fmt.Sprintf("%s-%02d", prefix, i)
		testenv.Cleanup(b, cli, name)
		work.Write("stacks/"+name+"/compose.yaml", "services:\n  app:\n    image: berthtest/app:1.0\n    restart: unless-stopped\n    environment:\n      N: \""+fmt.Sprint(i)+"\"\n")
	}
	work.Commit("20 stacks")
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
	c.Once(ctx) // the first deploy
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
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
