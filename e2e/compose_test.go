package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose"
	"github.com/moby/moby/client"
)

// TestApplyLifecycle walks one stack through the life it has in production:
// first apply, a no-op re-apply, a tag change on the service holding the
// data, a removed service, scaling, and a container removed by hand.
func TestApplyLifecycle(t *testing.T) {
	s := newStack(t, ".")

	t.Run("first apply", func(t *testing.T) {
		s.t = t
		s.mustBerth(1, "plan")
		s.mustBerth(0, "apply", "--settle", "1s")
		cs := s.containers()
		for _, svc := range []string{"db", "api", "web"} {
			c, ok := cs[s.name(svc, 1)]
			if !ok || c.State != "running" {
				t.Fatalf("%s: want running, got %+v (all: %s)", svc, c, ids(cs))
			}
			for _, l := range []string{compose.LabelProject, compose.LabelService, compose.LabelContainerNumber, compose.LabelOneoff, compose.LabelConfigHash, compose.LabelImage, compose.LabelVersion, compose.LabelWorkingDir, compose.LabelConfigFiles, compose.LabelDependsOn, compose.LabelBerthManaged} {
				if _, ok := c.Labels[l]; !ok {
					t.Errorf("%s: label %s missing", svc, l)
				}
			}
		}
		if got := cs[s.name("api", 1)].Labels[compose.LabelDependsOn]; got != "db:service_healthy:false" {
			t.Errorf("api depends_on label = %q", got)
		}
		vol, err := s.cli.VolumeInspect(context.Background(), s.project+"_data", client.VolumeInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if vol.Volume.Labels[compose.LabelProject] != s.project || vol.Volume.Labels[compose.LabelVolume] != "data" {
			t.Errorf("volume labels: %v", vol.Volume.Labels)
		}
		nw, err := s.cli.NetworkInspect(context.Background(), s.project+"_backend", client.NetworkInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if nw.Network.Labels[compose.LabelNetwork] != "backend" {
			t.Errorf("network labels: %v", nw.Network.Labels)
		}
	})

	t.Run("second apply is a no-op", func(t *testing.T) {
		s.t = t
		before := ids(s.containers())
		out := s.mustBerth(0, "plan")
		if !strings.Contains(out, "in sync") {
			t.Errorf("plan: %s", out)
		}
		out = s.mustBerth(0, "apply", "--settle", "1s")
		if !strings.Contains(out, "in sync") {
			t.Errorf("apply: %s", out)
		}
		if after := ids(s.containers()); after != before {
			t.Errorf("containers changed:\nbefore %s\nafter  %s", before, after)
		}
	})

	t.Run("an edited env_file is planned, though the compose file is the same", func(t *testing.T) {
		s.t = t
		s.mustBerth(0, "plan")
		s.write("api.env", "LOG_LEVEL=debug\n")
		out := s.mustBerth(1, "plan")
		if !strings.Contains(out, "service api:") || !strings.Contains(out, "environment changed") || strings.Contains(out, "service db:") {
			t.Errorf("plan after editing api.env:\n%s", out)
		}
		s.mustBerth(0, "apply", "--settle", "1s")
		s.mustBerth(0, "plan")
	})

	t.Run("tag change recreates only that service and keeps its volume", func(t *testing.T) {
		s.t = t
		before := s.containers()
		s.edit("compose.yaml", "  db:\n    image: berthtest/app:1.0", "  db:\n    image: berthtest/app:1.1")
		out := s.mustBerth(1, "plan")
		if !strings.Contains(out, "service db:") || !strings.Contains(out, "image berthtest/app:1.0 → berthtest/app:1.1") {
			t.Errorf("plan does not name db's image change:\n%s", out)
		}
		if strings.Contains(out, "service api:") || strings.Contains(out, "service web:") {
			t.Errorf("plan touches more than db:\n%s", out)
		}
		var pl compose.Plan
		js := s.mustBerth(1, "plan", "--json")
		if err := json.Unmarshal([]byte(js), &pl); err != nil || len(pl.Ops) != 1 || pl.Ops[0].Kind != compose.OpRecreate {
			t.Errorf("plan --json: %v %+v", err, pl)
		}
		s.mustBerth(0, "apply", "--settle", "1s")
		after := s.containers()
		if after[s.name("db", 1)].ID == before[s.name("db", 1)].ID {
			t.Error("db was not recreated")
		}
		for _, svc := range []string{"api", "web"} {
			if after[s.name(svc, 1)].ID != before[s.name(svc, 1)].ID {
				t.Errorf("%s was recreated but did not change", svc)
			}
		}
		starts := s.exec(s.name("db", 1), "/app", "cat", "/data/starts.log")
		if !strings.Contains(starts, "1.0") || !strings.Contains(starts, "1.1") {
			t.Errorf("volume data lost across the recreate: %q", starts)
		}
		s.mustBerth(0, "plan")
	})

	t.Run("removed service is removed as an orphan", func(t *testing.T) {
		s.t = t
		s.edit("compose.yaml", "  web:\n    image: berthtest/app:1.0\n    depends_on: [api]\n    networks: [backend]\n", "")
		out := s.mustBerth(1, "plan")
		if !strings.Contains(out, "orphan service") || !strings.Contains(out, s.name("web", 1)) {
			t.Errorf("plan: %s", out)
		}
		s.mustBerth(0, "apply", "--settle", "1s")
		if _, ok := s.containers()[s.name("web", 1)]; ok {
			t.Error("orphan web still exists")
		}
		if _, err := s.cli.VolumeInspect(context.Background(), s.project+"_data", client.VolumeInspectOptions{}); err != nil {
			t.Errorf("named volume gone: %v", err)
		}
	})

	t.Run("scale 1 to 3 to 1", func(t *testing.T) {
		s.t = t
		first := s.containers()[s.name("api", 1)].ID
		s.edit("compose.yaml", "      ROLE: api\n", "      ROLE: api\n    scale: 3\n")
		out := s.mustBerth(1, "plan")
		if strings.Count(out, "scale to 3") != 2 {
			t.Errorf("plan: %s", out)
		}
		s.mustBerth(0, "apply", "--settle", "1s")
		cs := s.containers()
		for n := 1; n <= 3; n++ {
			if cs[s.name("api", n)].State != "running" {
				t.Errorf("api-%d not running: %s", n, ids(cs))
			}
		}
		if cs[s.name("api", 1)].ID != first {
			t.Error("scaling up recreated api-1")
		}
		s.edit("compose.yaml", "    scale: 3\n", "    scale: 1\n")
		s.mustBerth(0, "apply", "--settle", "1s")
		cs = s.containers()
		if _, ok := cs[s.name("api", 2)]; ok {
			t.Errorf("api-2 left after scaling down: %s", ids(cs))
		}
		if _, ok := cs[s.name("api", 3)]; ok {
			t.Errorf("api-3 left after scaling down: %s", ids(cs))
		}
		if cs[s.name("api", 1)].ID != first {
			t.Error("scaling down recreated api-1")
		}
		s.mustBerth(0, "plan")
	})

	t.Run("container removed by hand is restored", func(t *testing.T) {
		s.t = t
		id := s.containers()[s.name("api", 1)].ID
		if _, err := s.cli.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		out := s.mustBerth(1, "plan")
		if !strings.Contains(out, "create") || !strings.Contains(out, "container missing") {
			t.Errorf("plan: %s", out)
		}
		s.mustBerth(0, "apply", "--settle", "1s")
		if s.containers()[s.name("api", 1)].State != "running" {
			t.Error("api-1 not restored")
		}
		s.mustBerth(0, "plan")
	})

	t.Run("docker compose ps lists the stack", func(t *testing.T) {
		s.t = t
		out := s.compose("ps", "--format", "{{.Name}} {{.Service}} {{.State}}")
		for _, svc := range []string{"db", "api"} {
			if !strings.Contains(out, s.name(svc, 1)+" "+svc+" running") {
				t.Errorf("compose ps does not show %s:\n%s", svc, out)
			}
		}
	})
}
