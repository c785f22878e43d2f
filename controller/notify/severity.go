package notify

import (
	"fmt"
	"strings"
)

// Severity is how much an event needs a person: a sink hears the events
// at or above its minimum.
type Severity int

// The severities, in order.
const (
	Info Severity = iota
	Warning
	Critical
)

var severityNames = []string{"info", "warning", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads "info", "warning" or "critical".
func ParseSeverity(v string) (Severity, error) {
	for i, n := range severityNames {
		if v == n {
			return Severity(i), nil
		}
	}
	return Info, fmt.Errorf("%q is not a severity (%s)", v, strings.Join(severityNames, ", "))
}

// Severity is the kind's severity; a kind this build does not know is a
// warning, so a sink that filters by severity hears it rather than not.
func (k Kind) Severity() Severity {
	s, _ := k.severity()
	return s
}

// severity is the one table of kinds: known says whether k is in it.
func (k Kind) severity() (s Severity, known bool) {
	switch k {
	case DeployStarted, DeploySucceeded, Recovered,
		IncidentRecovered, HostPressureRecovered, JourneyRecovered:
		return Info, true
	case DeployFailed, RolledBack, Stalled,
		OOMKilled, Unhealthy, HostPressureWarning:
		return Warning, true
	case RestartLoop, HostPressureCritical, JourneyFailing:
		return Critical, true
	}
	return Warning, false
}

// Kinds is every kind this build knows, in the order of the docs.
func Kinds() []Kind {
	return []Kind{DeployStarted, DeploySucceeded, DeployFailed, RolledBack, Stalled, Recovered,
		RestartLoop, OOMKilled, Unhealthy, IncidentRecovered,
		HostPressureWarning, HostPressureCritical, HostPressureRecovered, JourneyFailing, JourneyRecovered}
}

// ParseKind reads a kind's name and refuses one this build does not know.
func ParseKind(v string) (Kind, error) {
	if _, known := Kind(v).severity(); !known {
		return "", fmt.Errorf("%q is not an event kind (%s)", v, kindList())
	}
	return Kind(v), nil
}

func kindList() string {
	names := make([]string, 0, len(Kinds()))
	for _, k := range Kinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}
