package rollout

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/load"
)

// loadProject loads inline compose YAML the way berth does.
func loadProject(t *testing.T, yaml string) *types.Project {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "stack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := load.Load(context.Background(), load.LoadOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServiceSettings: the rollout's defaults for what a service's x-berth
// leaves out, and its overrides when set.
func TestServiceSettings(t *testing.T) {
	p := loadProject(t, `
services:
  web:
    image: app:1
    x-berth: {stability: 2s, drain: 0s}
  plain:
    image: app:1
`)
	if err := Check(p); err != nil {
		t.Fatal(err)
	}
	web, err := compose.ReadServiceSettings(p.Services["web"])
	if err != nil {
		t.Fatal(err)
	}
	if stability(web, time.Minute) != 2*time.Second || drain(web) != 0 {
		t.Errorf("overrides: stability %s, drain %s", stability(web, time.Minute), drain(web))
	}
	plain, _ := compose.ReadServiceSettings(p.Services["plain"])
	if drain(plain) != time.Second || stability(plain, 7*time.Second) != 7*time.Second {
		t.Errorf("defaults: stability %s, drain %s", stability(plain, 7*time.Second), drain(plain))
	}
}

func TestCheckRefusesBadSettings(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"strategy": {`
services:
  web: {image: a, x-berth: {update: blue-green}}`, `service "web": x-berth.update: "blue-green" is not start-first or stop-first`},
		"unknown key": {`
services:
  web: {image: a, x-berth: {updat: stop-first}}`, `service "web": x-berth.updat: unknown key`},
		"duration": {`
services:
  web: {image: a, x-berth: {health_timeout: 60}}`, `service "web": x-berth.health_timeout: want a duration like "30s", got 60`},
		"bad duration": {`
services:
  web: {image: a, x-berth: {stability: soon}}`, `service "web": x-berth.stability: "soon" is not a duration`},
		"parallelism": {`
services:
  web: {image: a, x-berth: {parallelism: 0}}`, `service "web": x-berth.parallelism: 0: want 1 or more`},
		"role": {`
services:
  web: {image: a, x-berth: {role: cron}}`, `service "web": x-berth.role: "cron" is not a role berth knows`},
		"start-first with a port": {`
services:
  web: {image: a, ports: ["8080:80"], x-berth: {update: start-first}}`, `service "web": x-berth.update: start-first cannot work with published host port 8080`},
		"top-level key": {`
x-berth: {bakee: 30s}
services:
  web: {image: a}`, `x-berth.bakee: unknown key`},
		"bake": {`
x-berth: {bake: forever}
services:
  web: {image: a}`, `x-berth.bake: "forever" is not a duration`},
		"probe kind": {`
x-berth:
  verify: [{tcp: {addr: "web:80"}}]
services:
  web: {image: a}`, `x-berth.verify[0]: "tcp" is not a probe berth knows`},
		"probe url": {`
x-berth:
  verify: [{http: {url: "web:8080/healthz"}}]
services:
  web: {image: a}`, `x-berth.verify[0].http.url: "web:8080/healthz": want http://HOST[:PORT]/PATH`},
		"probe field": {`
x-berth:
  verify: [{http: {url: "http://web/", code: 200}}]
services:
  web: {image: a}`, `x-berth.verify[0].http.code: unknown key`},
		"exec service": {`
x-berth:
  verify: [{exec: {service: api, command: ["/app", "health"]}}]
services:
  web: {image: a}`, `x-berth.verify[0].exec.service: "api" is not a service of the stack`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := Check(loadProject(t, tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check: %v\nwant an error containing %s", err, tc.want)
			}
		})
	}
}

func TestStrategyDefaults(t *testing.T) {
	p := loadProject(t, `
services:
  api: {image: a}
  web: {image: a, ports: ["8080:80"]}
  ephemeral: {image: a, ports: ["80"]}
  named: {image: a, container_name: named}
  host: {image: a, network_mode: host}
  forced: {image: a, ports: ["8081:80"], x-berth: {update: stop-first}}
  chosen: {image: a, container_name: chosen, x-berth: {update: start-first}}
`)
	want := map[string]string{"api": compose.StartFirst, "web": compose.StopFirst, "ephemeral": compose.StartFirst, "named": compose.StopFirst, "host": compose.StopFirst, "forced": compose.StopFirst, "chosen": compose.StartFirst}
	for name, strategy := range want {
		set, err := compose.ReadServiceSettings(p.Services[name])
		if err != nil {
			t.Fatal(err)
		}
		if got := Strategy(p.Services[name], set); got != strategy {
			t.Errorf("%s: strategy %s, want %s", name, got, strategy)
		}
	}
}
