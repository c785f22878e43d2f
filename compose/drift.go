package compose

import (
	"fmt"
	"slices"
	"strings"
)

// DriftOf is the drift between the desired state and the live containers:
// one line per missing, extra, stopped or changed container, sorted.
func DriftOf(d *Desired, live *Live) []string {
	var drift []string
	wanted := map[string]DesiredService{}
	for _, s := range d.Services {
		wanted[s.Name] = s
	}
	seen := map[string]map[int]bool{}
	for _, c := range live.Containers {
		s, ok := wanted[c.Service]
		switch {
		case !ok:
			drift = append(drift, fmt.Sprintf("container %s: service %s is not in the stack", c.Name, c.Service))
			continue
		case c.Number < 1 || c.Number > s.Replicas || seen[s.Name][c.Number]:
			drift = append(drift, fmt.Sprintf("container %s: extra container of %s", c.Name, s.Name))
			continue
		}
		if seen[s.Name] == nil {
			seen[s.Name] = map[int]bool{}
		}
		seen[s.Name][c.Number] = true
		if c.Hash != liveHash(s, live) {
			drift = append(drift, fmt.Sprintf("container %s: %s", c.Name, configCause(s, c)))
			continue
		}
		if c.State != "running" && c.State != "restarting" && !finished(s, c) {
			drift = append(drift, fmt.Sprintf("container %s: %s", c.Name, c.State))
		}
		for _, n := range s.Networks {
			if c.State == "running" && c.Networks[n] == "" {
				drift = append(drift, fmt.Sprintf("container %s: not connected to network %s", c.Name, n))
			}
		}
	}
	for _, s := range d.Services {
		for n := 1; n <= s.Replicas; n++ {
			if !seen[s.Name][n] {
				drift = append(drift, fmt.Sprintf("container %s: missing", ContainerName(d.Project, s, n)))
			}
		}
	}
	slices.Sort(drift)
	return drift
}

// finished is a one-shot container that exited cleanly: putting it back
// would run its task again on every poll.
func finished(s DesiredService, c LiveContainer) bool {
	return s.OneShot && c.State == "exited" && strings.HasPrefix(c.Status, "Exited (0)")
}
