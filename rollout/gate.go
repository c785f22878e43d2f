package rollout

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-gitops/berth/compose"
)

// The gates a started container passes.
const (
	GateHealthy   = "healthy"   // its healthcheck reports healthy
	GateStable    = "stable"    // it keeps running, without a restart, for the stability window
	GateCompleted = "completed" // a migration exits 0
)

// Gate kinds that only a Failure names.
const (
	GateStart      = "start"      // the engine refused to create or start it
	GateDependency = "dependency" // a depends_on condition did not hold
	GateMigrate    = "migrate"    // a migration failed
	GateProbe      = "probe"      // a verification probe failed
	GateBake       = "bake"       // something failed in the bake window
)

// pollEvery is how often a gate looks at its containers.
var pollEvery = 250 * time.Millisecond

// healthFloor is the least time a container gets to become healthy when
// the timeout is derived from its healthcheck.
const healthFloor = 30 * time.Second

// The engine's healthcheck defaults, for a timeout derived from a
// healthcheck that leaves them out.
const (
	engineHealthInterval = 30 * time.Second
	engineHealthTimeout  = 30 * time.Second
	engineHealthRetries  = 3
)

// gate is what one started container must pass.
type gate struct {
	kind string
	// limit bounds the wait for healthy or completed; window is how long a
	// stable container must keep running.
	limit, window time.Duration
	// oneShot passes a container that exits 0 (a task that finished).
	oneShot bool
}

// gateFor picks a container's gate from what the engine reports: a
// container with a healthcheck (the service's or its image's) must become
// healthy; one without must stay up for the stability window.
func gateFor(in container.InspectResponse, set compose.ServiceSettings, stab time.Duration, oneShot bool) gate {
	if set.Role == compose.RoleMigrate {
		limit := set.HealthTimeout
		if limit == 0 {
			limit = defaultMigrateLimit
		}
		return gate{kind: GateCompleted, limit: limit, oneShot: true}
	}
	if in.State != nil && in.State.Health != nil {
		limit := set.HealthTimeout
		if limit == 0 {
			limit = healthTimeout(in.Config)
		}
		return gate{kind: GateHealthy, limit: limit, oneShot: oneShot}
	}
	return gate{kind: GateStable, window: stab, oneShot: oneShot}
}

// healthTimeout derives the time a container gets to become healthy from
// its healthcheck: start_period + interval × retries + timeout, at least
// healthFloor.
func healthTimeout(cfg *container.Config) time.Duration {
	if cfg == nil || cfg.Healthcheck == nil {
		return healthFloor
	}
	h := cfg.Healthcheck
	interval, timeout, retries := h.Interval, h.Timeout, h.Retries
	if interval == 0 {
		interval = engineHealthInterval
	}
	if timeout == 0 {
		timeout = engineHealthTimeout
	}
	if retries == 0 {
		retries = engineHealthRetries
	}
	d := h.StartPeriod + interval*time.Duration(retries) + timeout
	return max(d, healthFloor)
}

// verdict is a gate's judgement of one look at a container.
type verdict int

const (
	waiting verdict = iota
	passed
	failed
)

// judge looks at a container once: elapsed is the time since it was
// started, restarts its restart count then. It is pure, so the gates'
// rules are tested without an engine.
func (g gate) judge(in container.InspectResponse, elapsed time.Duration, restarts int) (verdict, string) {
	st := in.State
	if st == nil {
		return failed, "the engine reports no state"
	}
	switch {
	case st.OOMKilled:
		return failed, fmt.Sprintf("OOM-killed (exit code %d)", st.ExitCode)
	case in.RestartCount > restarts || st.Restarting:
		return failed, fmt.Sprintf("restarting: the engine restarted it %d time(s)", max(in.RestartCount-restarts, 1))
	case !st.Running && st.Status != container.StateCreated:
		if g.oneShot && st.ExitCode == 0 {
			return passed, ""
		}
		return failed, fmt.Sprintf("exited with code %d", st.ExitCode)
	}
	switch g.kind {
	case GateCompleted:
		if elapsed >= g.limit {
			return failed, fmt.Sprintf("still running after %s", g.limit)
		}
	case GateHealthy:
		if st.Health == nil {
			return failed, "no healthcheck"
		}
		switch st.Health.Status {
		case container.Healthy:
			return passed, ""
		case container.Unhealthy:
			return failed, "unhealthy" + lastHealthOutput(st.Health)
		}
		if elapsed >= g.limit {
			return failed, fmt.Sprintf("not healthy after %s (health: %s)%s", g.limit, st.Health.Status, lastHealthOutput(st.Health))
		}
	default:
		if st.Running && elapsed >= g.window {
			return passed, ""
		}
	}
	return waiting, ""
}

// lastHealthOutput is the last healthcheck's exit code, for a reason. Its
// output is the container's: it may print any value the container holds,
// so it is never kept (docker inspect shows it on the host).
func lastHealthOutput(h *container.Health) string {
	if h == nil || len(h.Log) == 0 || h.Log[len(h.Log)-1] == nil {
		return ""
	}
	return fmt.Sprintf(": last check exited %d", h.Log[len(h.Log)-1].ExitCode)
}

// watch is one started container under its gate.
type watch struct {
	id, name string
	g        gate
	started  time.Time
	restarts int
	done     bool
}

// waitGates polls the containers of a batch until each passed its gate or
// one failed. It returns the failed watch and the reason, or nil. report
// is called about once a second with the time waited so far.
func (r *runner) waitGates(ctx context.Context, ws []*watch, report func(time.Duration)) (*watch, string, error) {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	start, lastReport := time.Now(), time.Now()
	for {
		pending := 0
		for _, w := range ws {
			if w.done {
				continue
			}
			in, err := r.x.Inspect(ctx, w.id)
			if err != nil {
				return nil, "", fmt.Errorf("inspect %s: %w", w.name, err)
			}
			switch v, why := w.g.judge(in, time.Since(w.started), w.restarts); v {
			case failed:
				return w, why, nil
			case passed:
				w.done = true
			default:
				pending++
			}
		}
		if pending == 0 {
			return nil, "", nil
		}
		if time.Since(lastReport) >= time.Second {
			lastReport = time.Now()
			report(time.Since(start))
		}
		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-tick.C:
		}
	}
}
