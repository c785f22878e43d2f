package controller

import (
	"testing"
	"time"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/controller/notify"
)

// TestJourneyRecord: journey_failing after the number of misses in a row
// asked for, once; journey_recovered on the first pass after it, once; a
// pass between misses starts the count again.
func TestJourneyRecord(t *testing.T) {
	now := time.Unix(1e9, 0)
	j := &journey{}
	j.follow("c1", compose.Settings{Watch: time.Minute, WatchFailures: 3}, now)
	var got []notify.Kind
	for _, ok := range []bool{false, false, true, false, false, false, false, false, true, true, false} {
		if k := j.record(ok, now); k != "" {
			got = append(got, k)
		}
	}
	want := []notify.Kind{notify.JourneyFailing, notify.JourneyRecovered}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("alerts = %v, want %v", got, want)
	}
	if j.misses != 1 || j.failing {
		t.Errorf("after one miss: misses %d, failing %v", j.misses, j.failing)
	}
}

// TestJourneySchedule: a journey is due a period after its commit was
// deployed and a period after each run; a new commit or a changed watch
// starts the schedule again; without watch it never runs.
func TestJourneySchedule(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	j := &journey{}
	if j.due(t0) {
		t.Fatal("a journey without watch is due")
	}
	set := compose.Settings{Watch: 5 * time.Minute, WatchFailures: 3}
	j.follow("c1", set, t0)
	if j.due(t0.Add(4*time.Minute)) || !j.due(t0.Add(5*time.Minute)) {
		t.Errorf("first run not 5m after the deploy: next %v", j.next.Sub(t0))
	}
	j.record(false, t0.Add(5*time.Minute))
	if j.due(t0.Add(9*time.Minute)) || !j.due(t0.Add(10*time.Minute)) {
		t.Errorf("second run not 5m after the first: next %v", j.next.Sub(t0))
	}
	j.follow("c1", set, t0.Add(6*time.Minute)) // the same commit again: no change
	if j.next != t0.Add(10*time.Minute) || j.misses != 1 {
		t.Errorf("the same commit moved the schedule: next %v, misses %d", j.next.Sub(t0), j.misses)
	}
	set.Watch = time.Minute
	j.follow("c2", set, t0.Add(6*time.Minute)) // a deploy with a shorter watch
	if !j.due(t0.Add(7*time.Minute)) || j.misses != 0 {
		t.Errorf("a new commit's watch: next %v, misses %d", j.next.Sub(t0), j.misses)
	}
	set.WatchFailures = 1
	j.follow("c2", set, t0.Add(7*time.Minute))
	if k := j.record(false, t0.Add(8*time.Minute)); k != notify.JourneyFailing {
		t.Errorf("watch_failures 1: one miss gave %q", k)
	}
	j.follow("c3", compose.Settings{}, t0.Add(8*time.Minute)) // watch removed
	if j.due(t0.Add(time.Hour)) {
		t.Error("a commit without watch is still scheduled")
	}
}
