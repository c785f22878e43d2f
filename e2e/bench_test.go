package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-gitops/berth/compose/apply"
	"github.com/berth-gitops/berth/compose/load"
	"github.com/berth-gitops/berth/e2e/testenv"
)

// twentyServices writes a 20-service stack: each service has a healthcheck,
// an environment, a restart policy and a memory limit, half of them share a
// named volume and all sit on a custom network.
func twentyServices(b *testing.B) *stack {
	b.Helper()
	y := twentyServicesCompose()
	cli := testenv.Engine(b)
	testenv.BuildImages(b, cli, "berthtest/app:1.0")
	project := "bench20"
	testenv.Cleanup(b, cli, project)
	dir := filepath.Join(b.TempDir(), project)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	s := &stack{t: b, cli: cli, dir: dir, project: project}
	s.write("compose.yaml", y)
	s.mustBerth(0, "apply")
	return s
}

// BenchmarkPlanInSync20 is `berth plan`'s work in process on an in-sync
// 20-service stack: load, observe, plan.
func BenchmarkPlanInSync20(b *testing.B) {
	s := twentyServices(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, err := load.Load(ctx, load.LoadOptions{Dir: s.dir, ProjectName: s.project})
		if err != nil {
			b.Fatal(err)
		}
		_, pl, err := apply.Diff(ctx, s.cli, p)
		if err != nil || !pl.InSync() {
			b.Fatalf("plan: %v %s", err, pl)
		}
	}
}

// BenchmarkCLIPlanInSync20 against BenchmarkComposeUpInSync20: the whole
// commands on the same in-sync stack (target ratio ≤ 0.5).
func BenchmarkCLIPlanInSync20(b *testing.B) {
	s := twentyServices(b)
	defer reportCPU(b)()
	for b.Loop() {
		s.mustBerth(0, "plan")
	}
}

func BenchmarkComposeUpInSync20(b *testing.B) {
	s := twentyServices(b)
	composeCLI(b)
	s.compose("up", "-d")
	defer reportCPU(b)()
	for b.Loop() {
		s.compose("up", "-d")
	}
}

// reportCPU starts counting the commands' CPU time; the function it returns
// reports it per operation.
func reportCPU(b *testing.B) func() {
	start := childCPU.Load()
	return func() {
		b.ReportMetric(float64(childCPU.Load()-start)/1e6/float64(b.N), "cpu-ms/op")
	}
}

// BenchmarkCLIApplyOneChange20 against BenchmarkComposeUpOneChange20: one
// service's environment changes, the command converges (target ≤ 1.0).
func BenchmarkCLIApplyOneChange20(b *testing.B) {
	s := twentyServices(b)
	gen := 0
	for b.Loop() {
		b.StopTimer()
		s.bumpGeneration(&gen)
		b.StartTimer()
		s.mustBerth(0, "apply")
	}
}

// BenchmarkCLIApplyOneChange20NoSettle is the like-for-like comparison with
// `docker compose up -d`, which does not watch a started container at all.
func BenchmarkCLIApplyOneChange20NoSettle(b *testing.B) {
	s := twentyServices(b)
	gen := 0
	for b.Loop() {
		b.StopTimer()
		s.bumpGeneration(&gen)
		b.StartTimer()
		s.mustBerth(0, "apply", "--settle", "0")
	}
}

func BenchmarkComposeUpOneChange20(b *testing.B) {
	s := twentyServices(b)
	composeCLI(b)
	s.compose("up", "-d")
	gen := 0
	for b.Loop() {
		b.StopTimer()
		s.bumpGeneration(&gen)
		b.StartTimer()
		s.compose("up", "-d")
	}
}

// bumpGeneration changes svc07's GEN variable, so one service differs.
func (s *stack) bumpGeneration(gen *int) {
	s.edit("compose.yaml", fmt.Sprintf("ROLE: svc07\n      GEN: \"%d\"", *gen), fmt.Sprintf("ROLE: svc07\n      GEN: \"%d\"", *gen+1))
	*gen++
}
