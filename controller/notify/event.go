// Package notify tells people about deploys and about what runs: Slack,
// Discord and Microsoft Teams incoming webhooks and a generic signed
// webhook, and any other Sink (commit statuses plug in the same way).
//
// The controller decides what is worth saying (a change, a failure, a
// recovery) and calls Notify, which never blocks: each sink has its own
// bounded queue and goroutine, so a slow or dead sink delays neither the
// others nor a deploy. Each sink hears what its Route lets through (kinds,
// stack patterns, a minimum severity) and sends the same kind, stack and
// subject once per window, counting the repeats it drops. Failed sends are
// retried with backoff, and a sink's URL, which holds its token, is never
// logged: only its kind and host.
package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/berth-gitops/berth/gitsource"
)

// Kind is what happened.
type Kind string

// The kinds of events.
const (
	DeployStarted   Kind = "deploy_started"
	DeploySucceeded Kind = "deploy_succeeded"
	DeployFailed    Kind = "deploy_failed"
	RolledBack      Kind = "rolled_back"
	Stalled         Kind = "stalled"
	Recovered       Kind = "recovered"
)

// The kinds of incidents berth run sees in the engine's events while a
// stack runs (see incident.go).
const (
	RestartLoop       Kind = "restart_loop"
	OOMKilled         Kind = "oom_killed"
	Unhealthy         Kind = "unhealthy"
	IncidentRecovered Kind = "incident_recovered"
)

// The kinds of the host's pressure and of the continuous journeys.
const (
	HostPressureWarning   Kind = "host_pressure_warning"
	HostPressureCritical  Kind = "host_pressure_critical"
	HostPressureRecovered Kind = "host_pressure_recovered"
	JourneyFailing        Kind = "journey_failing"
	JourneyRecovered      Kind = "journey_recovered"
)

// Event is one thing that happened to a stack on a host. Its JSON is the
// body of the generic webhook.
type Event struct {
	Kind  Kind   `json:"kind"`
	Host  string `json:"host"`
	Stack string `json:"stack"`
	// Commit is the commit the event is about: the one being deployed, or
	// the one that failed (also for RolledBack and Stalled).
	Commit string `json:"commit"`
	// Author and Message are the commit's author and subject line.
	Author  string `json:"author,omitempty"`
	Message string `json:"message,omitempty"`
	// Reason is the error or cause, for failures, rollbacks and stalls.
	Reason string `json:"reason,omitempty"`
	// Subject is what in the stack the event is about when it is not a
	// commit: a service, a journey, a host resource ("disk /var"). The
	// duplicate window tells events apart by it (by Commit when empty).
	Subject string    `json:"subject,omitempty"`
	Time    time.Time `json:"time"`
	// URL links to a status page, when one is configured.
	URL string `json:"url,omitempty"`
	// Suppressed counts the events equal to this one (same kind, stack
	// and subject) that the sink dropped inside its duplicate window
	// since it last sent one. Each sink sets its own count.
	Suppressed int `json:"suppressed,omitempty"`
	Incident
}

// Title is the event in a few words: "shop deployed on vps-1".
func (e Event) Title() string {
	if t, ok := e.incidentTitle(); ok {
		return t
	}
	what := map[Kind]string{
		DeployStarted:   "deploying",
		DeploySucceeded: "deployed",
		DeployFailed:    "deploy failed",
		RolledBack:      "rolled back",
		Stalled:         "stalled",
		Recovered:       "recovered",
	}[e.Kind]
	if what == "" {
		what = watchTitles[e.Kind]
	}
	if what == "" {
		what = string(e.Kind)
	}
	if e.Stack == "" { // about the host itself
		return fmt.Sprintf("%s %s on %s", e.icon(), what, e.Host)
	}
	return fmt.Sprintf("%s %s %s on %s", e.icon(), e.Stack, what, e.Host)
}

func (e Event) icon() string {
	switch e.Kind {
	case DeployStarted:
		return "🚀"
	case DeploySucceeded:
		return "✅"
	case DeployFailed:
		return "❌"
	case RolledBack:
		return "↩️"
	case Stalled:
		return "⏸️"
	case Recovered:
		return "💚"
	}
	if i := watchIcon(e.Kind); i != "" {
		return i
	}
	return "ℹ️"
}

// Detail is the commit line and the reason: "abc1234 “bump web” by ops".
func (e Event) Detail() string {
	var b strings.Builder
	if e.Commit != "" {
		b.WriteString("commit " + gitsource.Short(e.Commit))
	}
	if e.Message != "" {
		fmt.Fprintf(&b, " “%s”", oneLine(e.Message, 200))
	}
	if e.Author != "" {
		b.WriteString(" by " + e.Author)
	}
	if e.Subject != "" {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Subject)
	}
	if e.Reason != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(oneLine(e.Reason, 1000))
	}
	if e.Suppressed > 0 {
		fmt.Fprintf(&b, " (%d repeats since the last message were not sent)", e.Suppressed)
	}
	return strings.TrimSpace(b.String())
}

// Text is Title and Detail on one line.
func (e Event) Text() string {
	if d := e.Detail(); d != "" {
		return e.Title() + ": " + d
	}
	return e.Title()
}

// oneLine keeps the first line and cuts it to max runes.
func oneLine(s string, max int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}
