package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// TestBadInput feeds berth broken stacks after a good one is live: each
// gets a clear error naming what is wrong, and the live stack stays exactly
// as it was (same containers, same states).
func TestBadInput(t *testing.T) {
	s := newStack(t, ".")
	free := freePort(t)
	s.write(".env", fmt.Sprintf("WEB_PORT=%d\n", free))
	s.mustBerth(0, "apply")
	good := s.containers()
	before := ids(good)
	if good[s.name("web", 1)].State != "running" {
		t.Fatalf("web not running: %s", before)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	cases := []struct {
		name     string
		file     string // replaces compose.yaml
		env      string // replaces .env
		code     int
		contains []string
	}{
		{name: "invalid YAML", file: "services:\n  web:\n    image: [unclosed\n", code: 2,
			contains: []string{"compose.yaml", "yaml"}},
		{name: "unknown field", file: "services:\n  web:\n    image: berthtest/app:1.0\n    colour: red\n", code: 2,
			contains: []string{"web", "colour"}},
		{name: "missing required variable", file: "services:\n  web:\n    image: berthtest/app:${TAG:?set TAG to the release}\n", code: 2,
			contains: []string{"TAG", "set TAG to the release"}},
		{name: "undefined network", file: "services:\n  web:\n    image: berthtest/app:1.0\n    networks: [nowhere]\n", code: 2,
			contains: []string{`"web"`, "nowhere"}},
		{name: "port already taken", env: fmt.Sprintf("WEB_PORT=%d\n", takenPort), code: 1,
			contains: []string{`service "web"`, "put back"}},
		{name: "image not present", file: "services:\n  web:\n    image: berthtest/app:absent\n", code: 1,
			contains: []string{`service "web"`, "berthtest/app:absent", "could not be pulled"}},
	}
	goodFile := s.read("compose.yaml")
	goodEnv := s.read(".env")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.t = t
			if tc.file != "" {
				s.write("compose.yaml", tc.file)
			}
			if tc.env != "" {
				s.write(".env", tc.env)
			}
			defer s.write("compose.yaml", goodFile)
			defer s.write(".env", goodEnv)
			cmds := [][]string{{"apply"}}
			if tc.code == 2 {
				cmds = append(cmds, []string{"plan"}, []string{"config"})
			}
			for _, args := range cmds {
				_, stderr, code := s.berth(args...)
				if code != tc.code {
					t.Errorf("berth %v: exit %d, want %d", args, code, tc.code)
				}
				for _, want := range tc.contains {
					if !strings.Contains(stderr, want) {
						t.Errorf("berth %v: stderr does not mention %q:\n%s", args, want, stderr)
					}
				}
			}
			if after := ids(s.containers()); after != before {
				t.Errorf("live stack changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
