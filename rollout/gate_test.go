package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-gitops/berth/compose"
)

func TestHealthTimeout(t *testing.T) {
	cases := []struct {
		name string
		h    *container.HealthConfig
		want time.Duration
	}{
		{"no healthcheck", nil, healthFloor},
		{"engine defaults", &container.HealthConfig{Test: []string{"CMD", "x"}}, 0 + 30*time.Second*3 + 30*time.Second},
		{"short check gets the floor", &container.HealthConfig{Interval: time.Second, Timeout: 2 * time.Second, Retries: 3}, healthFloor},
		{"start period counts", &container.HealthConfig{StartPeriod: time.Minute, Interval: 5 * time.Second, Timeout: 3 * time.Second, Retries: 5}, time.Minute + 25*time.Second + 3*time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &container.Config{Healthcheck: tc.h}
			if got := healthTimeout(cfg); got != tc.want {
				t.Errorf("healthTimeout = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestGateFor(t *testing.T) {
	healthy := container.InspectResponse{State: &container.State{Running: true, Health: &container.Health{Status: container.Starting}},
		Config: &container.Config{Healthcheck: &container.HealthConfig{Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 6}}}
	plain := container.InspectResponse{State: &container.State{Running: true}, Config: &container.Config{}}
	if g := gateFor(healthy, compose.ServiceSettings{}, 10*time.Second, false); g.kind != GateHealthy || g.limit != 65*time.Second {
		t.Errorf("healthcheck: %+v", g)
	}
	if g := gateFor(healthy, compose.ServiceSettings{HealthTimeout: 5 * time.Second}, 10*time.Second, false); g.limit != 5*time.Second {
		t.Errorf("x-berth health_timeout: %+v", g)
	}
	if g := gateFor(plain, compose.ServiceSettings{}, 3*time.Second, false); g.kind != GateStable || g.window != 3*time.Second {
		t.Errorf("no healthcheck: %+v", g)
	}
	if g := gateFor(plain, compose.ServiceSettings{Role: compose.RoleMigrate}, 3*time.Second, true); g.kind != GateCompleted || g.limit != defaultMigrateLimit || !g.oneShot {
		t.Errorf("migration: %+v", g)
	}
}

func TestJudge(t *testing.T) {
	state := func(mut func(*container.State)) container.InspectResponse {
		st := &container.State{Status: container.StateRunning, Running: true}
		if mut != nil {
			mut(st)
		}
		return container.InspectResponse{State: st}
	}
	health := func(s container.HealthStatus) func(*container.State) {
		return func(st *container.State) {
			st.Health = &container.Health{Status: s, Log: []*container.HealthcheckResult{{ExitCode: 1, Output: "GET /healthz: 503"}}}
		}
	}
	exited := func(code int) func(*container.State) {
		return func(st *container.State) { st.Running, st.Status, st.ExitCode = false, container.StateExited, code }
	}
	healthyGate := gate{kind: GateHealthy, limit: 5 * time.Second}
	stable := gate{kind: GateStable, window: 2 * time.Second}
	cases := []struct {
		name     string
		g        gate
		in       container.InspectResponse
		elapsed  time.Duration
		restarts int
		want     verdict
		reason   string
	}{
		{"starting", healthyGate, state(health(container.Starting)), time.Second, 0, waiting, ""},
		{"healthy", healthyGate, state(health(container.Healthy)), time.Second, 0, passed, ""},
		{"unhealthy", healthyGate, state(health(container.Unhealthy)), time.Second, 0, failed, "unhealthy: last check exited 1"},
		{"health timeout", healthyGate, state(health(container.Starting)), 5 * time.Second, 0, failed, "not healthy after 5s (health: starting)"},
		{"stable too early", stable, state(nil), time.Second, 0, waiting, ""},
		{"stable", stable, state(nil), 2 * time.Second, 0, passed, ""},
		{"exited", stable, state(exited(1)), time.Second, 0, failed, "exited with code 1"},
		{"one-shot done", gate{kind: GateStable, window: time.Second, oneShot: true}, state(exited(0)), 100 * time.Millisecond, 0, passed, ""},
		{"restarted", stable, func() container.InspectResponse { in := state(nil); in.RestartCount = 2; return in }(), time.Second, 0, failed, "restarting: the engine restarted it 2 time(s)"},
		{"restarting", healthyGate, state(func(st *container.State) { st.Restarting = true; st.ExitCode = 1 }), time.Second, 0, failed, "restarting"},
		{"restarts before the start do not count", stable, func() container.InspectResponse { in := state(nil); in.RestartCount = 2; return in }(), 3 * time.Second, 2, passed, ""},
		{"oom", stable, state(func(st *container.State) { st.OOMKilled = true; st.Running = false; st.ExitCode = 137 }), time.Second, 0, failed, "OOM-killed"},
		{"migration done", gate{kind: GateCompleted, limit: time.Minute, oneShot: true}, state(exited(0)), time.Second, 0, passed, ""},
		{"migration failed", gate{kind: GateCompleted, limit: time.Minute, oneShot: true}, state(exited(3)), time.Second, 0, failed, "exited with code 3"},
		{"migration too long", gate{kind: GateCompleted, limit: time.Minute, oneShot: true}, state(nil), time.Minute, 0, failed, "still running after 1m0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, why := tc.g.judge(tc.in, tc.elapsed, tc.restarts)
			if got != tc.want || !strings.Contains(why, tc.reason) || strings.Contains(why, "GET /healthz") {
				t.Errorf("judge = %v %q, want %v %q", got, why, tc.want, tc.reason)
			}
		})
	}
}
