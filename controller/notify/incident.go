package notify

import "fmt"

// Incident is what an incident event adds: the service and container it
// is about, and what berth counted. A container's log lines never leave
// berth: LogLines is only how many there are, so a person knows what
// `docker logs --tail N` will show.
type Incident struct {
	// ID names the incident; its recovery carries the same one.
	ID        string `json:"incident,omitempty"`
	Service   string `json:"service,omitempty"`
	Container string `json:"container,omitempty"`
	// Of is the kind a recovery ends (restart_loop, oom_killed, unhealthy).
	Of       Kind `json:"of,omitempty"`
	ExitCode *int `json:"exit_code,omitempty"`
	// Count is the restarts (or OOM kills) within Window.
	Count    int    `json:"count,omitempty"`
	Window   string `json:"window,omitempty"`
	LogLines *int   `json:"log_lines,omitempty"`
}

// incidentTitle is an incident event's title: "🔥 shop/web is restarting
// in a loop on vps-1".
func (e Event) incidentTitle() (string, bool) {
	var what string
	switch e.Kind {
	case RestartLoop:
		what = "is restarting in a loop"
	case OOMKilled:
		what = "was killed for lack of memory"
	case Unhealthy:
		what = "is unhealthy"
	case IncidentRecovered:
		what = "recovered (" + string(e.Of) + ")"
	default:
		return "", false
	}
	icon := map[string]string{"critical": "🔥", "warning": "⚠️", "info": "💚"}[e.Kind.Severity().String()]
	service := e.Service
	if service == "" {
		service = e.Subject
	}
	return fmt.Sprintf("%s %s/%s %s on %s", icon, e.Stack, service, what, e.Host), true
}
