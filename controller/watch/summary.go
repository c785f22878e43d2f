package watch

import (
	"slices"
	"sort"

	"github.com/berth-gitops/berth/controller/notify"
)

// ServiceSummary is what the watcher saw of one service since berth
// started: counts and states, never a log line or a value.
type ServiceSummary struct {
	Service  string `json:"service"`
	Restarts int    `json:"restarts"`
	// RestartsDay are the restarts in the last 24 hours (by the hour).
	RestartsDay int   `json:"restarts_24h"`
	ExitCodes   []int `json:"last_exit_codes,omitempty"`
	OOMKills    int   `json:"oom_kills"`
	// Health is the last health status seen; HealthChanges counts them.
	Health        string `json:"health,omitempty"`
	HealthChanges int    `json:"health_changes"`
	// Incidents are the incidents open now.
	Incidents []notify.Kind `json:"incidents,omitempty"`
}

// Summary is a stack's services as the watcher saw them, by name; nil
// when it saw nothing.
func (w *Watcher) Summary(stack string) []ServiceSummary {
	if w == nil {
		return nil
	}
	now := w.o.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []ServiceSummary
	for k, s := range w.services {
		if k.stack != stack {
			continue
		}
		sum := ServiceSummary{Service: k.service, Restarts: s.restarts, RestartsDay: s.lastDay(now), ExitCodes: slices.Clone(s.exits),
			OOMKills: s.ooms, Health: s.health, HealthChanges: s.changes}
		for _, open := range []struct {
			inc  *incident
			kind notify.Kind
		}{{s.loop, notify.RestartLoop}, {s.oom, notify.OOMKilled}, {s.sick, notify.Unhealthy}} {
			if open.inc != nil {
				sum.Incidents = append(sum.Incidents, open.kind)
			}
		}
		out = append(out, sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}
