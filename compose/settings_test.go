package compose_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/load"
	"github.com/compose-spec/compose-go/v2/types"
)

func TestReadServiceSettings(t *testing.T) {
	p := mustLoadSpecProject(t, `
services:
  web:
    image: app:1
    x-berth:
      update: stop-first
      parallelism: 2
      health_timeout: 45s
      stability: 2s
      drain: 0s
  migrate:
    image: app:1
    x-berth: {role: migrate}
  plain:
    image: app:1
`, nil)
	web, err := compose.ReadServiceSettings(p.Services["web"])
	if err != nil {
		t.Fatal(err)
	}
	if web.Update != compose.StopFirst || web.Parallelism != 2 || web.HealthTimeout != 45*time.Second || *web.Stability != 2*time.Second || *web.Drain != 0 {
		t.Errorf("web settings = %+v", web)
	}
	m, err := compose.ReadServiceSettings(p.Services["migrate"])
	if err != nil || m.Role != compose.RoleMigrate || m.Parallelism != 1 {
		t.Errorf("migrate settings = %+v, %v", m, err)
	}
	plain, err := compose.ReadServiceSettings(p.Services["plain"])
	if err != nil || plain.Parallelism != 1 || plain.Stability != nil || plain.Drain != nil {
		t.Errorf("defaults = %+v, %v", plain, err)
	}
	for name, want := range map[string]bool{"web": false, "migrate": true, "plain": false} {
		if compose.IsMigration(p.Services[name]) != want {
			t.Errorf("IsMigration(%s) = %v", name, !want)
		}
	}
}

func TestReadStackSettings(t *testing.T) {
	p := mustLoadSpecProject(t, `
x-berth:
  hosts: [web-1]
  prune_volumes: true
  bake: 30s
  verify:
    - http: {url: "http://web:8080/healthz", status: 200, body: ok, timeout: 2s, retries: 5, interval: 500ms}
    - exec: {service: web, command: ["/app", "health"]}
    - exec: {service: web, command: "test -f /ready"}
services:
  web: {image: a}
`, nil)
	set, err := compose.ReadStackSettings(p)
	if err != nil {
		t.Fatal(err)
	}
	if set.Bake != 30*time.Second || len(set.Verify) != 3 || !set.PruneVolumes || len(set.Hosts) != 1 {
		t.Fatalf("settings = %+v", set)
	}
	h := set.Verify[0]
	if h.HTTP.URL != "http://web:8080/healthz" || h.HTTP.Status != 200 || h.HTTP.Body != "ok" || h.Timeout != 2*time.Second || h.Retries != 5 || h.Interval != 500*time.Millisecond {
		t.Errorf("http probe = %+v %+v", h, h.HTTP)
	}
	e := set.Verify[1]
	if e.Exec.Service != "web" || strings.Join(e.Exec.Command, " ") != "/app health" || e.Retries != compose.DefaultProbeRetries || e.Timeout != compose.DefaultProbeTimeout {
		t.Errorf("exec probe = %+v %+v", e, e.Exec)
	}
	if got := strings.Join(set.Verify[2].Exec.Command, "|"); got != "/bin/sh|-c|test -f /ready" {
		t.Errorf("shell form = %q", got)
	}
	// The host's reader, on the files as they are, knows the same keys.
	if _, err := load.ReadSettings(p.WorkingDir, ""); err != nil {
		t.Errorf("ReadSettings refuses the rollout's keys: %v", err)
	}
}

// TestReadSettingsBeforeInterpolation: a host reads x-berth before the
// stack's variables exist, so it must not judge the values it does not
// need (bake, verify), yet still refuse keys it does not know, naming the
// file and the key.
func TestReadSettingsBeforeInterpolation(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(s+"services:\n  a: {image: x}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("x-berth:\n  hosts: [web-1]\n  bake: ${BAKE}\n  verify: ${PROBES}\n")
	if s, err := load.ReadSettings(dir, ""); err != nil || !s.RunsOn("web-1") || s.Bake != 0 || s.Verify != nil {
		t.Fatalf("settings = %+v, %v", s, err)
	}
	for body, want := range map[string]string{
		"x-berth:\n  bakes: 30s\n":           "compose.yaml: x-berth.bakes: unknown key",
		"x-berth:\n  hosts: web-1\n":         "compose.yaml: x-berth.hosts: want a list",
		"x-berth:\n  hosts: [[a]]\n":         "compose.yaml: x-berth.hosts[0]: want a host name",
		"x-berth:\n  prune_volumes: maybe\n": "compose.yaml: x-berth.prune_volumes: want true or false",
		"x-berth: [hosts]\n":                 "compose.yaml: x-berth: want a mapping",
		"x-berth:\n  hosts: [\"web-[\"]\n":   "compose.yaml: x-berth.hosts: bad pattern",
	} {
		write(body)
		_, err := load.ReadSettings(dir, "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v\nwant an error containing %s", body, err, want)
		}
	}
}

// mustLoadSpecProject writes compose.yaml to a temporary stack folder and
// loads it as project "demo".
func mustLoadSpecProject(t *testing.T, body string, _ map[string]string) *types.Project {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := load.Load(context.Background(), load.LoadOptions{Dir: dir, ProjectName: "demo"})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p
}

// TestReadStackSettingsWatch: x-berth watch schedules the verify probes
// between deploys; a value that is not a duration, or shorter than the
// least, is refused naming the key, never accepted as "off".
func TestReadStackSettingsWatch(t *testing.T) {
	const head = "services:\n  web: {image: app:1}\nx-berth:\n"
	p := mustLoadSpecProject(t, head+"  watch: 5m\n  watch_failures: 2\n", nil)
	set, err := compose.ReadStackSettings(p)
	if err != nil || set.Watch != 5*time.Minute || set.WatchFailures != 2 {
		t.Errorf("watch settings = %v, %d, %v", set.Watch, set.WatchFailures, err)
	}
	p = mustLoadSpecProject(t, head+"  bake: 1s\n", nil)
	if set, err := compose.ReadStackSettings(p); err != nil || set.Watch != 0 || set.WatchFailures != compose.DefaultWatchFailures {
		t.Errorf("defaults = %v, %d, %v", set.Watch, set.WatchFailures, err)
	}
	for body, want := range map[string]string{
		"  watch: often\n":      `x-berth.watch: "often" is not a duration`,
		"  watch: 5s\n":         "x-berth.watch: 5s: want 10s or more",
		"  watch: 0s\n":         "x-berth.watch: 0s: want more than 0",
		"  watch_failures: 0\n": "x-berth.watch_failures: 0: want 1 or more",
		"  watch_failures: x\n": "x-berth.watch_failures: want a whole number",
		"  watches: 5m\n":       "x-berth.watches: unknown key",
	} {
		_, err := compose.ReadStackSettings(mustLoadSpecProject(t, head+body, nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v\nwant an error containing %s", body, err, want)
		}
	}
}

func TestReadRestartAlert(t *testing.T) {
	p := mustLoadSpecProject(t, `
services:
  web:
    image: app:1
    x-berth: {restart_alert: {count: 5, window: 2m}}
  half:
    image: app:1
    x-berth: {restart_alert: {window: 30s}}
  plain:
    image: app:1
`, nil)
	want := map[string]compose.RestartAlert{
		"web":   {Count: 5, Window: 2 * time.Minute},
		"half":  {Count: 3, Window: 30 * time.Second},
		"plain": compose.DefaultRestartAlert,
	}
	for name, w := range want {
		set, err := compose.ReadServiceSettings(p.Services[name])
		if err != nil || set.RestartAlert != w {
			t.Errorf("%s: restart_alert = %+v, %v; want %+v", name, set.RestartAlert, err, w)
		}
	}
	for yaml, msg := range map[string]string{
		"{restart_alert: {count: 0}}":             `service "web": x-berth.restart_alert.count: 0: want 1 or more`,
		"{restart_alert: {window: soon}}":         `service "web": x-berth.restart_alert.window: "soon" is not a duration`,
		"{restart_alert: {times: 3}}":             `service "web": x-berth.restart_alert.times: unknown key (known: count, window)`,
		"{restart_alert: 3}":                      `service "web": x-berth.restart_alert: want a mapping of count and window`,
		"{restart_alert: {count: 2, window: 0s}}": `service "web": x-berth.restart_alert.window: 0s: want more than 0`,
	} {
		p := mustLoadSpecProject(t, "services:\n  web:\n    image: app:1\n    x-berth: "+yaml+"\n", nil)
		_, err := compose.ReadServiceSettings(p.Services["web"])
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want %q", yaml, err, msg)
		}
	}
}

// TestReadStackSettingsWindows: x-berth windows are read whole; a bad
// entry is refused naming its index and field.
func TestReadStackSettingsWindows(t *testing.T) {
	const head = "services:\n  web: {image: app:1}\nx-berth:\n  windows:\n"
	p := mustLoadSpecProject(t, head+"    - {kind: deny, schedule: \"0 22 * * *\", duration: 10h, timezone: Europe/Berlin}\n    - {kind: allow, schedule: \"0 8 * * 1-5\", duration: 10h}\n", nil)
	set, err := compose.ReadStackSettings(p)
	if err != nil || len(set.Windows) != 2 {
		t.Fatalf("windows = %+v, %v", set.Windows, err)
	}
	if w := set.Windows[0]; w.Kind != compose.WindowDeny || w.Duration != 10*time.Hour || w.Location.String() != "Europe/Berlin" {
		t.Errorf("first window = %+v", w)
	}
	if w := set.Windows[1]; w.Kind != compose.WindowAllow || w.Location != time.UTC {
		t.Errorf("second window = %+v", w)
	}
	for body, want := range map[string]string{
		"    - {kind: later, schedule: \"0 8 * * *\", duration: 1h}\n":             `x-berth.windows[0].kind: "later" is not allow or deny`,
		"    - {kind: deny, schedule: \"0 8 * *\", duration: 1h}\n":                "x-berth.windows[0].schedule:",
		"    - {kind: deny, schedule: \"0 8 * * *\", duration: 1}\n":               "x-berth.windows[0].duration: want a string",
		"    - {kind: deny, schedule: \"0 8 * * *\", duration: 1h, timezone: X}\n": "x-berth.windows[0].timezone:",
		"    - {kind: deny, schedule: \"0 8 * * *\", duration: 1h, tz: UTC}\n":     "x-berth.windows[0].tz: unknown key",
		"    - deny\n": "x-berth.windows[0]: want a mapping",
	} {
		_, err := compose.ReadStackSettings(mustLoadSpecProject(t, head+body, nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v\nwant an error containing %s", body, err, want)
		}
	}
}
