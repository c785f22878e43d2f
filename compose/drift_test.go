package compose

import (
	"strings"
	"testing"
)

func TestDriftOf(t *testing.T) {
	d := &Desired{Project: "p", Services: []DesiredService{
		{Name: "web", Replicas: 2, Hash: "h1", Networks: []string{"p_default"}},
		{Name: "job", Replicas: 1, Hash: "h2", OneShot: true},
	}}
	running := func(svc string, n int, hash string) LiveContainer {
		return LiveContainer{Name: ContainerName("p", DesiredService{Name: svc}, n), Service: svc, Number: n, Hash: hash, State: "running", Networks: map[string]string{"p_default": "id"}}
	}
	job := LiveContainer{Name: "p-job-1", Service: "job", Number: 1, Hash: "h2", State: "exited", Status: "Exited (0) 3 minutes ago"}
	cases := []struct {
		name string
		live []LiveContainer
		want string
	}{
		{"in sync", []LiveContainer{running("web", 1, "h1"), running("web", 2, "h1"), job}, ""},
		{"missing", []LiveContainer{running("web", 1, "h1"), job}, "container p-web-2: missing"},
		{"changed", []LiveContainer{running("web", 1, "h1"), running("web", 2, "old"), job}, "container p-web-2: config changed"},
		{"stopped", []LiveContainer{running("web", 1, "h1"), func() LiveContainer { c := running("web", 2, "h1"); c.State = "exited"; return c }(), job}, "container p-web-2: exited"},
		{"failed job", []LiveContainer{running("web", 1, "h1"), running("web", 2, "h1"), func() LiveContainer { c := job; c.Status = "Exited (3) 1 second ago"; return c }()}, "container p-job-1: exited"},
		{"extra", []LiveContainer{running("web", 1, "h1"), running("web", 2, "h1"), running("web", 3, "h1"), job}, "container p-web-3: extra container of web"},
		{"orphan", []LiveContainer{running("web", 1, "h1"), running("web", 2, "h1"), job, running("old", 1, "x")}, "container p-old-1: service old is not in the stack"},
		{"network", []LiveContainer{running("web", 1, "h1"), func() LiveContainer { c := running("web", 2, "h1"); c.Networks = nil; return c }(), job}, "container p-web-2: not connected to network p_default"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(DriftOf(d, &Live{Project: "p", Containers: tc.live}), "; ")
			if got != tc.want {
				t.Fatalf("drift = %q, want %q", got, tc.want)
			}
		})
	}
}
