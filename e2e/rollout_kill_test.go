package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/compose"
)

// TestRolloutKilled: berth apply is SIGKILLed in the middle of a
// start-first rollout, with the old container renamed aside and the new one
// starting beside it. The next apply converges: one container per replica
// under its own name, all on the new version, nothing set aside or
// duplicated, and a plan with nothing left to do.
func TestRolloutKilled(t *testing.T) {
	s := newStack(t, ".")
	s.apply(0)
	s.edit("compose.yaml", "  web:\n    image: berthtest/app:1.0", "  web:\n    image: berthtest/app:1.1\n    environment: {START_DELAY: 3s}")

	cmd := exec.Command(berthBin, "apply", "--settle", "1s", "-p", s.project, s.dir)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitFor(t, 30*time.Second, "web-1 set aside with its replacement running beside it", func() bool {
		cs := s.containers()
		aside := false
		for name := range cs {
			aside = aside || compose.IsAside(name)
		}
		return aside && cs[s.name("web", 1)].Image == "berthtest/app:1.1" && cs[s.name("web", 1)].State == "running"
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-done
	t.Logf("killed berth apply with %v", s.names())

	out, _ := s.apply(0)
	if !strings.Contains(out, "set aside by an interrupted rollout") && !strings.Contains(out, "interrupted") {
		t.Logf("second apply did not mention the interrupted rollout:\n%s", out)
	}
	s.wantNames(s.name("web", 1), s.name("web", 2), s.name("other", 1))
	for _, c := range s.containers() {
		if c.Service == "web" && (c.Image != "berthtest/app:1.1" || c.State != "running") {
			t.Errorf("%s: %s %s, want berthtest/app:1.1 running", c.Name, c.Image, c.State)
		}
	}
	if out := s.mustBerth(0, "plan"); !strings.Contains(out, "in sync") {
		t.Errorf("plan after converging:\n%s", out)
	}
}
