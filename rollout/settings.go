package rollout

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose"
)

// Defaults of the rollout that x-berth can override.
const (
	defaultDrain        = time.Second
	defaultMigrateLimit = 10 * time.Minute
)

// Check validates every x-berth field of a loaded project, the service ones
// and the top-level ones, so that a commit with a bad setting stalls before
// anything is touched. Errors name the service and the key.
func Check(p *types.Project) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		set, err := compose.ReadServiceSettings(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if set.Update == compose.StartFirst && len(publishedPorts(s)) > 0 {
			errs = append(errs, fmt.Errorf("service %q: x-berth.update: start-first cannot work with published host port %s: the new container could not bind it while the old one runs; use stop-first", name, publishedPorts(s)[0]))
		}
	}
	if _, err := compose.ReadStackSettings(p); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// publishedPorts lists the fixed host ports a service publishes.
func publishedPorts(s types.ServiceConfig) []string {
	var out []string
	for _, p := range s.Ports {
		if p.Published != "" && p.Published != "0" {
			host := p.Published
			if p.HostIP != "" {
				host = p.HostIP + ":" + host
			}
			out = append(out, host)
		}
	}
	return out
}

// Strategy is how a service's containers are replaced: its x-berth update,
// else start-first unless the service publishes a host port, has a
// container_name or shares the host's network, which two containers could
// not hold at once.
func Strategy(s types.ServiceConfig, set compose.ServiceSettings) string {
	if set.Update != "" {
		return set.Update
	}
	if len(publishedPorts(s)) > 0 || s.ContainerName != "" || s.NetworkMode == "host" {
		return compose.StopFirst
	}
	return compose.StartFirst
}

// stability is a service's stability window.
func stability(set compose.ServiceSettings, def time.Duration) time.Duration {
	if set.Stability != nil {
		return *set.Stability
	}
	return def
}

// drain is how long an old container serves beside its replacement.
func drain(set compose.ServiceSettings) time.Duration {
	if set.Drain != nil {
		return *set.Drain
	}
	return defaultDrain
}
