package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/e2e/testenv"
)

// BenchmarkWatchAlert measures the time from a crash (docker kill
// --signal USR1 of a restart: always container) to the restart_loop alert's
// arrival at a generic webhook receiver, with a restart alert of one
// restart: the engine's restart delay (100 ms for a container that ran
// 10 s), its start event, berth's handling and the webhook's delivery.
// event-to-alert is the part after the start event. Run it with a small
// -benchtime (each kill waits 11 s first, so the engine's restart delay
// is back to its least).
func BenchmarkWatchAlert(b *testing.B) {
	in := newInfraTB(b)
	testenv.BuildImages(b, in.cli, watchImage)
	loop := in.project("loop")
	in.write("loop", "compose.yaml", strings.Replace(strings.ReplaceAll(loopCompose, "@VERSION@", "one"),
		"{count: 3, window: 8s}", "{count: 1, window: 1s}", 1))
	first := in.commit("a stack to watch")
	sink := newAlertSink(b)
	run := in.startBerth("", sink.args(b)...)
	run.waitApplied(loop.project, first, 120*time.Second)
	name := loop.name("loop", 1)
	var toAlert, fromEvent time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		time.Sleep(11 * time.Second) // the engine's restart delay resets after 10 s of running
		before, err := in.cli.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := in.cli.ContainerKill(context.Background(), name, client.ContainerKillOptions{Signal: "USR1"}); err != nil {
			b.Fatal(err)
		}
		e, at := sink.waitN("loop", notify.RestartLoop, i+1, 30*time.Second)
		b.StopTimer()
		toAlert += at.Sub(start)
		fromEvent += at.Sub(e.Time)
		waitRestarted(b, in.cli, name, before.Container.State.StartedAt)
		sink.waitN("loop", notify.IncidentRecovered, i+1, 30*time.Second)
	}
	b.ReportMetric(float64(toAlert.Milliseconds())/float64(b.N), "ms-kill-to-alert")
	b.ReportMetric(float64(fromEvent.Microseconds())/1000/float64(b.N), "ms-event-to-alert")
}
