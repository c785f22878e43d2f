package rollout

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// The update strategies.
const (
	StartFirst = "start-first"
	StopFirst  = "stop-first"
)

// RoleMigrate marks a service as a migration: x-berth: {role: migrate}.
const RoleMigrate = "migrate"

// ServiceSettings are a service's x-berth fields: how it rolls.
type ServiceSettings struct {
	// Update is start-first or stop-first; "" picks the default (see
	// Strategy).
	Update string
	// Parallelism is how many containers of the service roll at once
	// (default 1).
	Parallelism int
	// HealthTimeout bounds the wait for healthy; zero derives it from the
	// healthcheck. For a migration it bounds the run (default 10 min).
	HealthTimeout time.Duration
	// Stability overrides Options.Stability for a service without a
	// healthcheck; nil keeps it.
	Stability *time.Duration
	// Drain is how long, on a start-first replacement, the old container
	// keeps serving beside the new one that passed before it is stopped
	// (default 1 s).
	Drain *time.Duration
	// Role is "" or "migrate".
	Role string
}

// StackSettings are the rollout's top-level x-berth fields.
type StackSettings struct {
	// Verify are the probes run once every service passed its gate.
	Verify []Probe
	// Bake is how long the stack is watched after verification.
	Bake time.Duration
}

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
	defaultDrain         = time.Second
	defaultMigrateLimit  = 10 * time.Minute
)

// Check validates every x-berth field of a loaded project, the service ones
// and the top-level ones, so that a commit with a bad setting stalls before
// anything is touched. Errors name the service and the key.
func Check(p *types.Project) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		set, err := ReadServiceSettings(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if set.Update == StartFirst && len(publishedPorts(s)) > 0 {
			errs = append(errs, fmt.Errorf("service %q: x-berth.update: start-first cannot work with published host port %s: the new container could not bind it while the old one runs; use stop-first", name, publishedPorts(s)[0]))
		}
	}
	if _, err := ReadStackSettings(p); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ReadServiceSettings decodes a service's x-berth strictly.
func ReadServiceSettings(s types.ServiceConfig) (ServiceSettings, error) {
	set := ServiceSettings{Parallelism: 1}
	raw, ok := s.Extensions["x-berth"]
	if !ok || raw == nil {
		return set, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return set, fmt.Errorf("service %q: x-berth: want a mapping, got %s", s.Name, describe(raw))
	}
	d := decoder{where: fmt.Sprintf("service %q: x-berth", s.Name)}
	for _, key := range slices.Sorted(maps.Keys(m)) {
		v := m[key]
		switch key {
		case "update":
			set.Update = d.str(key, v)
			if set.Update != "" && set.Update != StartFirst && set.Update != StopFirst {
				d.fail(key, "%q is not start-first or stop-first", set.Update)
			}
		case "parallelism":
			if set.Parallelism = d.integer(key, v); set.Parallelism < 1 {
				d.fail(key, "%d: want 1 or more", set.Parallelism)
			}
		case "health_timeout":
			set.HealthTimeout = d.duration(key, v, false)
		case "stability":
			st := d.duration(key, v, true)
			set.Stability = &st
		case "drain":
			dr := d.duration(key, v, true)
			set.Drain = &dr
		case "role":
			if set.Role = d.str(key, v); set.Role != RoleMigrate {
				d.fail(key, "%q is not a role berth knows (migrate)", set.Role)
			}
		default:
			d.fail(key, "unknown key (known: update, parallelism, health_timeout, stability, drain, role)")
		}
	}
	return set, d.err()
}

// ReadStackSettings decodes the rollout's top-level x-berth fields strictly.
// The host selection fields (hosts, prune_volumes) are compose.Settings'.
func ReadStackSettings(p *types.Project) (StackSettings, error) {
	var set StackSettings
	raw, ok := p.Extensions["x-berth"]
	if !ok || raw == nil {
		return set, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return set, fmt.Errorf("x-berth: want a mapping, got %s", describe(raw))
	}
	d := decoder{where: "x-berth"}
	for _, key := range slices.Sorted(maps.Keys(m)) {
		v := m[key]
		switch key {
		case "hosts", "prune_volumes":
		case "bake":
			set.Bake = d.duration(key, v, true)
		case "verify":
			list, ok := v.([]any)
			if !ok {
				d.fail(key, "want a list of probes, got %s", describe(v))
				continue
			}
			for i, item := range list {
				if pr, ok := d.probe(p, fmt.Sprintf("verify[%d]", i), item); ok {
					set.Verify = append(set.Verify, pr)
				}
			}
		default:
			d.fail(key, "unknown key (known: hosts, prune_volumes, verify, bake)")
		}
	}
	return set, d.err()
}

// probe decodes one verify entry: {http: {...}} or {exec: {...}}.
func (d *decoder) probe(p *types.Project, key string, v any) (Probe, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		d.fail(key, "want one of http: or exec:, got %s", describe(v))
		return Probe{}, false
	}
	pr := Probe{Timeout: defaultProbeTimeout, Retries: defaultProbeRetries, Interval: defaultProbeInterval}
	for kind, body := range m {
		fields, ok := body.(map[string]any)
		if !ok {
			d.fail(key+"."+kind, "want a mapping, got %s", describe(body))
			return Probe{}, false
		}
		switch kind {
		case "http":
			pr.HTTP = &HTTPProbe{Status: 200}
		case "exec":
			pr.Exec = &ExecProbe{}
		default:
			d.fail(key, "%q is not a probe berth knows (http, exec)", kind)
			return Probe{}, false
		}
		key += "." + kind
		for _, f := range slices.Sorted(maps.Keys(fields)) {
			d.probeField(&pr, key, f, fields[f])
		}
		d.checkProbe(p, &pr, key)
	}
	return pr, true
}

func (d *decoder) probeField(pr *Probe, key, f string, v any) {
	switch f {
	case "timeout":
		pr.Timeout = d.duration(key+"."+f, v, false)
		return
	case "retries":
		if pr.Retries = d.integer(key+"."+f, v); pr.Retries < 1 {
			d.fail(key+"."+f, "%d: want 1 or more", pr.Retries)
		}
		return
	case "interval":
		pr.Interval = d.duration(key+"."+f, v, true)
		return
	}
	switch {
	case pr.HTTP != nil && f == "url":
		pr.HTTP.URL = d.str(key+"."+f, v)
	case pr.HTTP != nil && f == "status":
		if pr.HTTP.Status = d.integer(key+"."+f, v); pr.HTTP.Status < 100 || pr.HTTP.Status > 599 {
			d.fail(key+"."+f, "%d is not an HTTP status", pr.HTTP.Status)
		}
	case pr.HTTP != nil && f == "body":
		pr.HTTP.Body = d.str(key+"."+f, v)
	case pr.Exec != nil && f == "service":
		pr.Exec.Service = d.str(key+"."+f, v)
	case pr.Exec != nil && f == "command":
		pr.Exec.Command = d.command(key+"."+f, v)
	case pr.HTTP != nil:
		d.fail(key+"."+f, "unknown key (known: url, status, body, timeout, retries, interval)")
	default:
		d.fail(key+"."+f, "unknown key (known: service, command, timeout, retries, interval)")
	}
}

func (d *decoder) checkProbe(p *types.Project, pr *Probe, key string) {
	if h := pr.HTTP; h != nil {
		u, err := url.Parse(h.URL)
		switch {
		case h.URL == "":
			d.fail(key+".url", "missing")
		case err != nil:
			d.fail(key+".url", "%v", err)
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			d.fail(key+".url", "%q: want http://HOST[:PORT]/PATH", h.URL)
		}
	}
	if e := pr.Exec; e != nil {
		if _, ok := p.Services[e.Service]; !ok {
			d.fail(key+".service", "%q is not a service of the stack", e.Service)
		}
		if len(e.Command) == 0 {
			d.fail(key+".command", "missing")
		}
	}
}

// decoder collects the errors of one x-berth mapping.
type decoder struct {
	where string
	errs  []error
}

func (d *decoder) fail(key, format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf("%s.%s: %s", d.where, key, fmt.Sprintf(format, args...)))
}

func (d *decoder) err() error { return errors.Join(d.errs...) }

func (d *decoder) str(key string, v any) string {
	s, ok := v.(string)
	if !ok {
		d.fail(key, "want a string, got %s", describe(v))
	}
	return s
}

func (d *decoder) integer(key string, v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case uint64:
		return int(n)
	case float64:
		if n == float64(int(n)) {
			return int(n)
		}
	}
	d.fail(key, "want a whole number, got %s", describe(v))
	return 0
}

// duration reads a Go duration string ("30s", "1m30s").
func (d *decoder) duration(key string, v any, zeroOK bool) time.Duration {
	s, ok := v.(string)
	if !ok {
		d.fail(key, "want a duration like \"30s\", got %s", describe(v))
		return 0
	}
	dur, err := time.ParseDuration(s)
	switch {
	case err != nil:
		d.fail(key, "%q is not a duration (like 30s or 1m30s)", s)
	case dur < 0 || dur == 0 && !zeroOK:
		d.fail(key, "%s: want more than 0", s)
	}
	return dur
}

// command reads an exec command: a list of strings, or one string run by
// /bin/sh -c.
func (d *decoder) command(key string, v any) []string {
	switch c := v.(type) {
	case string:
		return []string{"/bin/sh", "-c", c}
	case []any:
		out := make([]string, 0, len(c))
		for _, a := range c {
			s, ok := a.(string)
			if !ok {
				d.fail(key, "want a list of strings, got %s in it", describe(a))
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	d.fail(key, "want a list of strings, got %s", describe(v))
	return nil
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%v", v)
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
func Strategy(s types.ServiceConfig, set ServiceSettings) string {
	if set.Update != "" {
		return set.Update
	}
	if len(publishedPorts(s)) > 0 || s.ContainerName != "" || s.NetworkMode == "host" {
		return StopFirst
	}
	return StartFirst
}

// stability is a service's stability window.
func stability(set ServiceSettings, def time.Duration) time.Duration {
	if set.Stability != nil {
		return *set.Stability
	}
	return def
}

// drain is how long an old container serves beside its replacement.
func drain(set ServiceSettings) time.Duration {
	if set.Drain != nil {
		return *set.Drain
	}
	return defaultDrain
}
