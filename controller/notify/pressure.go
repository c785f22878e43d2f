package notify

// watchTitles are the few words of the host pressure and journey kinds.
var watchTitles = map[Kind]string{
	HostPressureWarning:   "host pressure warning",
	HostPressureCritical:  "host pressure critical",
	HostPressureRecovered: "host pressure recovered",
	JourneyFailing:        "journey failing",
	JourneyRecovered:      "journey recovered",
}

// watchIcon is the icon of a host pressure or journey kind, by its
// severity; "" for the other kinds.
func watchIcon(k Kind) string {
	if _, ok := watchTitles[k]; !ok {
		return ""
	}
	switch k.Severity() {
	case Critical:
		return "🔥"
	case Warning:
		return "⚠️"
	}
	return "💚"
}
