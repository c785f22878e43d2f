package main

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/controller/watch"
)

// TestNoteSaysRetryFromStall: a retrying stack's note says what may pass
// and when berth tries again; a stalled one only the error.
func TestNoteSaysRetryFromStall(t *testing.T) {
	retrying := controller.StackStatus{StackState: store.StackState{Stack: "shop", State: controller.StateRetrying,
		Retry: "engine unreachable", RetryAt: time.Now().Add(8 * time.Second), Error: "Cannot connect to the Docker daemon\nmore"}}
	got := note(retrying)
	if !strings.HasPrefix(got, "engine unreachable, next try in ") || !strings.HasSuffix(got, "; Cannot connect to the Docker daemon") {
		t.Fatalf("retrying note %q", got)
	}
	stalled := controller.StackStatus{StackState: store.StackState{Stack: "shop", State: controller.StateStalled,
		Error: `load stack shop (compose.yaml): service "web": field image: required`}}
	if got := note(stalled); strings.Contains(got, "next try") || !strings.Contains(got, `service "web"`) {
		t.Fatalf("stalled note %q", got)
	}
}

// TestPrintWatch: the status shows each pressure reading, what berth
// cannot see, and a failing journey.
func TestPrintWatch(t *testing.T) {
	st := controller.Status{Running: true, Stacks: []controller.StackStatus{},
		Pressure: &controller.PressureStatus{Checks: 3, Readings: []controller.PressureReading{
			{Resource: controller.ResourceDisk, Path: "/var/lib/docker", Ratio: 0.961, Level: "critical"},
			{Resource: controller.ResourceDisk, Path: "/var/lib/berth", Error: "not visible to berth"},
			{Resource: controller.ResourceMemory, Ratio: 0.4, Level: "ok"},
			{Resource: controller.ResourceLoad, Ratio: 0.25},
		}},
		Journeys: []controller.JourneyStatus{{Stack: "shop", Every: 5 * time.Minute, Runs: 4, Misses: 3, Failing: true}}}
	var b strings.Builder
	printStatus(&b, st)
	for _, want := range []string{"pressure:   disk /var/lib/docker 96.1% CRITICAL", "disk /var/lib/berth: not visible to berth",
		"memory 40.0%", "load 0.25 per CPU", "journeys:   shop every 5m0s: FAILING (3 misses in a row)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}

func TestNoteNamesOpenIncidents(t *testing.T) {
	s := controller.StackStatus{Services: []watch.ServiceSummary{
		{Service: "web", Restarts: 4, Incidents: []notify.Kind{notify.RestartLoop}},
		{Service: "db", Restarts: 1},
	}}
	got := note(s)
	if got != "web: restart_loop (4 restarts, 0 OOM kills since berth started)" {
		t.Errorf("note = %q", got)
	}
}
