package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestRolloutFailures: from one good state, each kind of bad new version
// fails the apply (exit 1) with the gate and the reason, and the containers
// it replaced are back, serving, under their names, with nothing left over.
func TestRolloutFailures(t *testing.T) {
	s := newStack(t, ".")
	s.apply(0)
	good := s.read("compose.yaml")
	before := ids(s.containers())
	worker := s.name("worker", 1)

	cases := []struct {
		name   string
		edit   func(string) string
		gate   string
		reason []string
		// absent are the container's own log lines: berth counts them and
		// names the command that shows them, never prints them.
		absent []string
	}{
		{
			name: "never healthy",
			edit: func(y string) string {
				return strings.Replace(y, "  web:\n    image: berthtest/app:1.0", "  web:\n    image: berthtest/app:1.1\n    environment: {HEALTHY: \"false\"}", 1)
			},
			gate: "healthy gate failed", reason: []string{`service "web"`, "unhealthy", "log lines: docker logs --tail 20 " + s.name("web", 1)},
			absent: []string{"healthy=false", "listening on"},
		},
		{
			name: "crash loop",
			edit: func(y string) string {
				return strings.Replace(y, "  worker:\n    image: berthtest/app:1.0", "  worker:\n    image: berthtest/app:1.1\n    environment: {CRASH: \"true\"}", 1)
			},
			gate: "stable gate failed", reason: []string{`service "worker"`, "docker logs --tail 20 " + s.name("worker", 1)},
			absent: []string{"CRASH=true"},
		},
		{
			name: "failing verification probe",
			// No healthcheck any more: the gate passes, /healthz does not.
			edit: func(y string) string {
				y = strings.Replace(y, "  web:\n    image: berthtest/app:1.0", "  web:\n    image: berthtest/app:1.1\n    environment: {HEALTHY: \"false\"}\n    x-berth: {stability: 1s}", 1)
				return strings.Replace(y, "    healthcheck:\n      test: [\"CMD\", \"/app\", \"health\"]\n      interval: 500ms\n      timeout: 2s\n      retries: 2\n", "", 1)
			},
			gate: "probe gate failed", reason: []string{"GET http://web:8080/healthz", "status 503, want 200 (body: "},
		},
		{
			name: "failure in the bake window",
			// Healthy long enough for the gate and the probes even on a
			// busy host, where the start call alone can take a second.
			edit: func(y string) string {
				y = strings.Replace(y, "  web:\n    image: berthtest/app:1.0", "  web:\n    image: berthtest/app:1.1\n    environment: {UNHEALTHY_AFTER: 5s}", 1)
				return strings.Replace(y, "x-berth:\n", "x-berth:\n  bake: 12s\n", 1)
			},
			gate: "bake gate failed", reason: []string{`service "web"`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.t = t
			defer s.write("compose.yaml", good)
			s.write("compose.yaml", tc.edit(good))
			start := time.Now()
			_, stderr := s.apply(1)
			t.Logf("%s: failed and put back in %.1fs", tc.name, time.Since(start).Seconds())
			for _, want := range append([]string{tc.gate, "put back"}, tc.reason...) {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not mention %q:\n%s", want, stderr)
				}
			}
			for _, line := range tc.absent {
				if strings.Contains(stderr, line) {
					t.Errorf("stderr shows the container's log line %q:\n%s", line, stderr)
				}
			}
			if after := ids(s.containers()); after != before {
				t.Fatalf("the previous containers are not back:\nbefore %s\nafter  %s", before, after)
			}
			if v := s.get(worker, "http://web:8080/version"); v != "1.0" {
				t.Errorf("web serves %q after the failure", v)
			}
			if out := s.mustBerth(1, "plan"); strings.Contains(out, "interrupted") || strings.Contains(out, "remove") {
				t.Errorf("plan after the failure:\n%s", out)
			}
		})
	}
}

// TestRolloutMigration: a migration runs to completion on the new image
// before web rolls, and is not run again while it does not change; a
// migration that fails (exit 3) rolls nothing, and the error counts its
// output and names the command that shows it, without printing it.
func TestRolloutMigration(t *testing.T) {
	s := newStack(t, ".")
	out, _ := s.apply(0)
	migrate, web := s.name("migrate", 1), s.name("web", 1)
	if i, j := strings.Index(out, "migrate 1/1"), strings.Index(out, "web 1/1"); i < 0 || j < 0 || i > j {
		t.Errorf("migrate did not run before web:\n%s", out)
	}
	cs := s.containers()
	if cs[migrate].State != "exited" || cs[web].State != "running" {
		t.Fatalf("after the first apply: %s", ids(cs))
	}
	s.mustBerth(0, "plan") // a finished migration needs nothing
	before := ids(cs)

	s.edit("compose.yaml", "    image: berthtest/app:1.0\n    command: [\"exit\", \"0\"]", "    image: berthtest/app:1.1\n    environment: {EXIT_AFTER: 200ms, EXIT_CODE: \"3\"}")
	s.edit("compose.yaml", "  web:\n    image: berthtest/app:1.0", "  web:\n    image: berthtest/app:1.1")
	_, stderr := s.apply(1)
	for _, want := range []string{`service "migrate": migrate gate failed`, "exited with code 3", "log lines: docker logs --tail 20 " + migrate} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "EXIT_AFTER=200ms: exiting 3") {
		t.Errorf("stderr shows the migration's output:\n%s", stderr)
	}
	if after := ids(s.containers()); after != before {
		t.Errorf("a failed migration changed the stack:\nbefore %s\nafter  %s", before, after)
	}
}
