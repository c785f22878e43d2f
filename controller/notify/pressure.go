package notify

// Host pressure and journey alerts: what berth watches between deploys.
const (
	// HostPressureWarning and HostPressureCritical: a host resource (disk,
	// inodes, memory) crossed its threshold; HostPressureRecovered: it
	// fell back below. Subject names the resource and path.
	HostPressureWarning   Kind = "host_pressure_warning"
	HostPressureCritical  Kind = "host_pressure_critical"
	HostPressureRecovered Kind = "host_pressure_recovered"
	// JourneyFailing: a stack's scheduled verify probes missed several
	// times in a row; JourneyRecovered: they pass again. Subject names the
	// probe.
	JourneyFailing   Kind = "journey_failing"
	JourneyRecovered Kind = "journey_recovered"
)

// The severities of the kinds.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

var kindSeverity = map[Kind]string{
	HostPressureWarning:   SeverityWarning,
	HostPressureCritical:  SeverityCritical,
	HostPressureRecovered: SeverityInfo,
	JourneyFailing:        SeverityCritical,
	JourneyRecovered:      SeverityInfo,
}

// watchTitles are the few words of the pressure and journey kinds.
var watchTitles = map[Kind]string{
	HostPressureWarning:   "host pressure warning",
	HostPressureCritical:  "host pressure critical",
	HostPressureRecovered: "host pressure recovered",
	JourneyFailing:        "journey failing",
	JourneyRecovered:      "journey recovered",
}

// watchIcon is the icon of a kind by its severity; "" when it has none.
func watchIcon(k Kind) string {
	switch kindSeverity[k] {
	case SeverityCritical:
		return "🔥"
	case SeverityWarning:
		return "⚠️"
	case SeverityInfo:
		return "💚"
	}
	return ""
}
