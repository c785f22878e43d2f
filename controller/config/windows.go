package config

import (
	"fmt"

	"github.com/berth-gitops/berth/compose"
)

// Window is one host deploy window as berth.yaml writes it; see
// compose.Window for what it means.
type Window struct {
	Kind     string `yaml:"kind"`
	Schedule string `yaml:"schedule"`
	Duration string `yaml:"duration"`
	Timezone string `yaml:"timezone"`
}

// DeployWindows are the host's deploy windows, which hold for every stack
// beside the stack's own; an error names the entry and its field
// (windows[0].timezone).
func (c Config) DeployWindows() ([]compose.Window, error) {
	var out []compose.Window
	for i, w := range c.Windows {
		pw, err := compose.ParseWindow(w.Kind, w.Schedule, w.Duration, w.Timezone)
		if err != nil {
			return nil, fmt.Errorf("windows[%d].%w", i, err)
		}
		out = append(out, pw)
	}
	return out, nil
}
