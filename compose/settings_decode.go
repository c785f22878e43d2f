package compose

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// decoder collects the errors of one x-berth mapping. Values come as YAML
// decodes them into any: strings, whole numbers, lists and mappings.
type decoder struct {
	where string // "service \"web\": x-berth", "x-berth", "FILE: x-berth"
	// full decodes every stack key; without it only the keys a host needs
	// before interpolation (hosts, prune_volumes, windows) are read, the
	// rest only known.
	full     bool
	services types.Services // for exec probes, when full
	errs     []error
}

func (d *decoder) fail(key, format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf("%s.%s: %s", d.where, key, fmt.Sprintf(format, args...)))
}

func (d *decoder) err() error { return errors.Join(d.errs...) }

func (d *decoder) serviceField(set *ServiceSettings, key string, v any) {
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
	case "restart_alert":
		set.RestartAlert = d.restartAlert(key, v)
	default:
		d.fail(key, "unknown key (known: update, parallelism, health_timeout, stability, drain, role, restart_alert)")
	}
}

// restartAlert reads {count: N, window: DURATION}; a key left out keeps
// the default's.
func (d *decoder) restartAlert(key string, v any) RestartAlert {
	ra := DefaultRestartAlert
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(key, "want a mapping of count and window, got %s", describe(v))
		return ra
	}
	for _, f := range slices.Sorted(maps.Keys(m)) {
		switch f {
		case "count":
			if ra.Count = d.integer(key+"."+f, m[f]); ra.Count < 1 {
				d.fail(key+"."+f, "%d: want 1 or more", ra.Count)
			}
		case "window":
			ra.Window = d.duration(key+"."+f, m[f], false)
		default:
			d.fail(key+"."+f, "unknown key (known: count, window)")
		}
	}
	return ra
}

// stack decodes a top-level x-berth into set; keys present replace what
// set holds, so an overlay file's keys win.
func (d *decoder) stack(set *Settings, raw any) {
	if raw == nil {
		return
	}
	m, ok := raw.(map[string]any)
	if !ok {
		d.errs = append(d.errs, fmt.Errorf("%s: want a mapping, got %s", d.where, describe(raw)))
		return
	}
	for _, key := range slices.Sorted(maps.Keys(m)) {
		v := m[key]
		switch key {
		case "hosts":
			set.Hosts = d.hosts(key, v)
		case "prune_volumes":
			set.PruneVolumes = d.boolean(key, v)
		case "bake":
			if d.full {
				set.Bake = d.duration(key, v, true)
			}
		case "verify":
			if d.full {
				set.Verify = d.probes(key, v)
			}
		case "watch":
			if d.full {
				set.Watch = d.watch(key, v)
			}
		case "windows":
			// Read before interpolation too: the loop decides on them
			// before it loads a commit.
			set.Windows = d.windows(key, v)
		case "watch_failures":
			if d.full {
				if set.WatchFailures = d.integer(key, v); set.WatchFailures < 1 {
					d.fail(key, "%d: want 1 or more", set.WatchFailures)
				}
			}
		default:
			d.fail(key, "unknown key (known: hosts, prune_volumes, verify, bake, watch, watch_failures, windows)")
		}
	}
}

// hosts reads a list of host names or patterns. Its errors show no value:
// they come before interpolation, from the files as they are.
func (d *decoder) hosts(key string, v any) []string {
	list, ok := v.([]any)
	if !ok {
		d.fail(key, "want a list of host names or patterns")
		return nil
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		h, ok := item.(string)
		if !ok {
			d.fail(fmt.Sprintf("%s[%d]", key, i), "want a host name or pattern")
			continue
		}
		if _, err := path.Match(h, ""); err != nil {
			d.fail(key, "bad pattern %q: %v", h, err)
			continue
		}
		out = append(out, h)
	}
	return out
}

// windows reads a list of deploy windows, each {kind, schedule, duration,
// timezone}; an error names the entry and its field.
func (d *decoder) windows(key string, v any) []Window {
	list, ok := v.([]any)
	if !ok {
		d.fail(key, "want a list of windows, got %s", describe(v))
		return nil
	}
	var out []Window
	for i, item := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		m, ok := item.(map[string]any)
		if !ok {
			d.fail(k, "want a mapping of kind, schedule, duration and timezone, got %s", describe(item))
			continue
		}
		var f [4]string
		bad := false
		for _, name := range slices.Sorted(maps.Keys(m)) {
			i := slices.Index([]string{"kind", "schedule", "duration", "timezone"}, name)
			if i < 0 {
				d.fail(k+"."+name, "unknown key (known: kind, schedule, duration, timezone)")
				bad = true
				continue
			}
			s, ok := m[name].(string)
			if !ok {
				d.fail(k+"."+name, "want a string, got %s", describe(m[name]))
				bad = true
			}
			f[i] = s
		}
		if bad {
			continue
		}
		w, err := ParseWindow(f[0], f[1], f[2], f[3])
		if err != nil {
			d.errs = append(d.errs, fmt.Errorf("%s.%s.%w", d.where, k, err))
			continue
		}
		out = append(out, w)
	}
	return out
}

// watch reads x-berth watch: a duration of at least MinWatch.
func (d *decoder) watch(key string, v any) time.Duration {
	w := d.duration(key, v, false)
	if w > 0 && w < MinWatch {
		d.fail(key, "%s: want %s or more", w, MinWatch)
	}
	return w
}

func (d *decoder) probes(key string, v any) []Probe {
	list, ok := v.([]any)
	if !ok {
		d.fail(key, "want a list of probes, got %s", describe(v))
		return nil
	}
	var out []Probe
	for i, item := range list {
		if pr, ok := d.probe(fmt.Sprintf("%s[%d]", key, i), item); ok {
			out = append(out, pr)
		}
	}
	return out
}

// probe decodes one verify entry: {http: {...}} or {exec: {...}}.
func (d *decoder) probe(key string, v any) (Probe, bool) {
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
		d.checkProbe(&pr, key)
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

func (d *decoder) checkProbe(pr *Probe, key string) {
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
		if _, ok := d.services[e.Service]; !ok {
			d.fail(key+".service", "%q is not a service of the stack", e.Service)
		}
		if len(e.Command) == 0 {
			d.fail(key+".command", "missing")
		}
	}
}

func (d *decoder) str(key string, v any) string {
	s, ok := v.(string)
	if !ok {
		d.fail(key, "want a string, got %s", describe(v))
	}
	return s
}

func (d *decoder) boolean(key string, v any) bool {
	b, ok := v.(bool)
	if !ok {
		d.fail(key, "want true or false")
	}
	return b
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
