package compose

import (
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/berth-gitops/berth/compose/budget"
)

// The x-berth schema: what only berth reads, kept in extension fields so
// the files stay valid for plain compose. Every reader decodes it here,
// strictly: an unknown key or a bad value is an error naming the file or
// service and the key (x-berth.<key>).

// The update strategies of x-berth.update.
const (
	StartFirst = "start-first"
	StopFirst  = "stop-first"
)

// RoleMigrate marks a service as a migration: x-berth: {role: migrate}.
const RoleMigrate = "migrate"

// Settings are the stack-level x-berth fields.
type Settings struct {
	// Hosts lists the hosts that run the stack (names or path.Match
	// patterns); empty means every host.
	Hosts []string
	// PruneVolumes removes the stack's named volumes with the stack when it
	// leaves the repo. Off by default: data outlives its stack.
	PruneVolumes bool
	// Verify are the probes run once every service passed its gate.
	Verify []Probe
	// Bake is how long the stack is watched after verification.
	Bake time.Duration
	// Watch, when set, runs the Verify probes again this often between
	// deploys (at least MinWatch); WatchFailures is the number of
	// consecutive misses before a journey counts as failing (default 3).
	Watch         time.Duration
	WatchFailures int
	// Windows are the stack's deploy windows, besides the host's.
	Windows []Window
}

// MinWatch is the shortest x-berth watch: probes every few seconds would
// load the stack more than they tell.
const MinWatch = 10 * time.Second

// DefaultWatchFailures is x-berth watch_failures when it is not set.
const DefaultWatchFailures = 3

// ServiceSettings are a service's x-berth fields: how it rolls.
type ServiceSettings struct {
	// Update is start-first or stop-first; "" lets the rollout pick.
	Update string
	// Parallelism is how many containers of the service roll at once
	// (default 1).
	Parallelism int
	// HealthTimeout bounds the wait for healthy; zero derives it from the
	// healthcheck. For a migration it bounds the run.
	HealthTimeout time.Duration
	// Stability overrides the rollout's stability window for a service
	// without a healthcheck; nil keeps it.
	Stability *time.Duration
	// Drain is how long, on a start-first replacement, the old container
	// keeps serving beside the new one that passed before it is stopped;
	// nil keeps the rollout's default.
	Drain *time.Duration
	// Role is "" or "migrate".
	Role string
	// RestartAlert is when berth run calls the service's restarts a loop
	// and alerts (default DefaultRestartAlert).
	RestartAlert RestartAlert
}

// RestartAlert is a restart loop's threshold: Count restarts of a
// service's containers within Window (x-berth.restart_alert).
type RestartAlert struct {
	Count  int
	Window time.Duration
}

// DefaultRestartAlert is 3 restarts in 10 minutes.
var DefaultRestartAlert = RestartAlert{Count: 3, Window: 10 * time.Minute}

// Probe is one verification: exactly one of HTTP and Exec is set.
type Probe struct {
	HTTP *HTTPProbe
	Exec *ExecProbe
	// Timeout bounds one attempt; Retries is the number of attempts (at
	// least 1), Interval the pause between them.
	Timeout  time.Duration
	Retries  int
	Interval time.Duration
}

// HTTPProbe GETs a URL as seen from inside the stack's network.
type HTTPProbe struct {
	URL string
	// Status is the expected status code (default 200).
	Status int
	// Body, when set, must be a substring of the response body.
	Body string
}

// ExecProbe runs a command in a service's first container; exit 0 passes.
type ExecProbe struct {
	Service string
	Command []string
}

func (p Probe) String() string {
	if p.HTTP != nil {
		return "GET " + p.HTTP.URL
	}
	return fmt.Sprintf("exec %q in %s", p.Exec.Command, p.Exec.Service)
}

// Probe defaults.
const (
	defaultProbeTimeout  = 2 * time.Second
	defaultProbeRetries  = 3
	defaultProbeInterval = time.Second
)

// ReadServiceSettings decodes a loaded service's x-berth.
func ReadServiceSettings(s types.ServiceConfig) (ServiceSettings, error) {
	set := ServiceSettings{Parallelism: 1, RestartAlert: DefaultRestartAlert}
	raw, ok := s.Extensions["x-berth"]
	if !ok || raw == nil {
		return set, nil
	}
	d := decoder{where: fmt.Sprintf("service %q: x-berth", s.Name)}
	m, ok := raw.(map[string]any)
	if !ok {
		return set, fmt.Errorf("%s: want a mapping, got %s", d.where, describe(raw))
	}
	for _, key := range slices.Sorted(maps.Keys(m)) {
		d.serviceField(&set, key, m[key])
	}
	return set, d.err()
}

// IsMigration says whether a service is a migration (x-berth role:
// migrate): a task that runs to completion before the long-running services
// roll, and is never restarted.
func IsMigration(s types.ServiceConfig) bool {
	set, _ := ReadServiceSettings(s)
	return set.Role == RoleMigrate
}

// ReadStackSettings decodes a loaded project's top-level x-berth, after
// interpolation: all of it, the probes checked against the project's
// services.
func ReadStackSettings(p *types.Project) (Settings, error) {
	d := decoder{where: "x-berth", services: p.Services, full: true}
	set := Settings{WatchFailures: DefaultWatchFailures}
	d.stack(&set, p.Extensions["x-berth"])
	return set, d.err()
}

// ReadSettingsFile adds the top-level x-berth of one compose file, as it is
// before interpolation, to s.
func ReadSettingsFile(file string, s *Settings) error {
	data, err := budget.ReadYAML(filepath.Base(file), file, budget.Compose)
	if err != nil {
		return err
	}
	return ParseSettingsFile(file, data, s)
}

// ParseSettingsFile adds the top-level x-berth of one compose file's
// content, named file, to s.
func ParseSettingsFile(file string, data []byte, s *Settings) error {
	var doc struct {
		XBerth any `yaml:"x-berth"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	d := decoder{where: file + ": x-berth"}
	d.stack(s, doc.XBerth)
	return d.err()
}

// RunsOn says whether a stack with these settings runs on host.
func (s Settings) RunsOn(host string) bool {
	if len(s.Hosts) == 0 {
		return true
	}
	for _, h := range s.Hosts {
		if ok, _ := path.Match(h, host); ok {
			return true
		}
	}
	return false
}
