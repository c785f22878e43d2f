package e2e

import (
	"strings"
	"testing"
)

// TestAdoptComposeStack proves the two tools agree: a stack that
// `docker compose up -d` started is adopted by berth with nothing
// recreated, and `docker compose up -d` after a berth change recreates
// nothing either.
func TestAdoptComposeStack(t *testing.T) {
	s := newStack(t, ".")
	composeCLI(t)
	s.compose("up", "-d", "--wait")
	before := ids(s.containers())

	out := s.mustBerth(0, "plan")
	if !strings.Contains(out, "in sync") {
		t.Errorf("plan after compose up: %s", out)
	}
	hashes := s.mustBerth(0, "config", "--hash")
	for _, c := range s.containers() {
		if c.Service == "sidecar" {
			// Its label hash holds web's container ID (network_mode:
			// service:web), which no offline command can know; the plan
			// above proved berth computes it as compose does.
			continue
		}
		if !strings.Contains(hashes, c.Service+" "+c.Labels["com.docker.compose.config-hash"]) {
			t.Errorf("berth config --hash does not match %s's label:\n%s", c.Name, hashes)
		}
	}
	s.mustBerth(0, "apply", "--settle", "1s")
	if after := ids(s.containers()); after != before {
		t.Fatalf("berth recreated compose's containers:\nbefore %s\nafter  %s", before, after)
	}

	s.edit("compose.yaml", "GREETING: hello", "GREETING: bonjour")
	out = s.mustBerth(1, "plan")
	if !strings.Contains(out, "service web:") || strings.Contains(out, "service db:") {
		t.Errorf("plan after an environment change: %s", out)
	}
	s.mustBerth(0, "apply", "--settle", "1s")
	afterBerth := ids(s.containers())
	s.compose("up", "-d", "--wait")
	if afterCompose := ids(s.containers()); afterCompose != afterBerth {
		t.Errorf("docker compose up recreated berth's containers:\nafter berth   %s\nafter compose %s", afterBerth, afterCompose)
	}
}
