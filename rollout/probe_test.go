package rollout

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// TestVerifyHTTPProbe: a probe that names a service is dialled at that
// service's running container's address on the stack's network; its status
// and body decide, each try up to retries, and the failure names the probe,
// the service and the tries, never the body.
func TestVerifyHTTPProbe(t *testing.T) {
	var status atomic.Int32
	var body atomic.Value
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/health" {
			t.Errorf("probe asked for %s", r.URL.Path)
		}
		w.WriteHeader(int(status.Load()))
		fmt.Fprint(w, body.Load())
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	p := loadProject(t, fmt.Sprintf(`
x-berth:
  verify:
    - http: {url: "http://www:%s/health", body: ok, retries: 2, interval: 10ms, timeout: 1s}
services:
  web:
    image: nginx:1
    hostname: www
  db:
    image: postgres:16
`, port))
	e := &fakeEngine{
		list: func() []container.Summary {
			return []container.Summary{
				summary("d1", "shop-db-1", "db", "1", container.StateRunning),
				summary("w1", "shop-web-1", "web", "1", container.StateRunning),
			}
		},
		inspect: func(id string) (container.InspectResponse, error) {
			if id != "w1" {
				t.Errorf("inspected %s, not the web container", id)
			}
			in := running(p.Name+"_default", "127.0.0.1")
			// Another network, first by name: the stack's own wins.
			in.NetworkSettings.Networks["bridge"] = &network.EndpointSettings{IPAddress: netip.MustParseAddr("192.0.2.1")}
			return in, nil
		},
	}
	ctx := context.Background()
	status.Store(200)
	body.Store("all ok")
	if f := Verify(ctx, e, p, Options{}); f != nil {
		t.Fatalf("a healthy service failed: %v", f)
	}

	for _, tc := range []struct {
		status int32
		body   string
		want   string
	}{
		{503, "down: password=hunter2", "status 503, want 200 (body: 22 bytes)"},
		{200, "starting", `body (8 bytes) does not contain "ok"`},
	} {
		status.Store(tc.status)
		body.Store(tc.body)
		hits.Store(0)
		f := Verify(ctx, e, p, Options{})
		want := fmt.Sprintf("GET http://www:%s/health: %s (2 attempt(s))", port, tc.want)
		if f == nil || f.Gate != GateProbe || f.Service != "web" || f.Reason != want {
			t.Errorf("got %+v, want reason %q", f, want)
		}
		if hits.Load() != 2 {
			t.Errorf("%d tries, want 2", hits.Load())
		}
		if f != nil && strings.Contains(f.Error(), "hunter2") {
			t.Errorf("the body reached the failure: %v", f)
		}
	}

}

// TestVerifyNamesStoppedService: a probe of a service with no running
// container fails naming it, without dialling anything.
func TestVerifyNamesStoppedService(t *testing.T) {
	p := loadProject(t, `
x-berth:
  verify:
    - http: {url: "http://web:8080/", retries: 1}
services:
  web:
    image: nginx:1
`)
	e := &fakeEngine{list: func() []container.Summary {
		return []container.Summary{summary("w1", "shop-web-1", "web", "1", container.StateExited)}
	}}
	f := Verify(context.Background(), e, p, Options{})
	if f == nil || f.Service != "web" || !strings.Contains(f.Reason, `service "web" has no running container`) {
		t.Errorf("got %+v", f)
	}
	e.list = func() []container.Summary { return nil }
	p.Extensions["x-berth"] = map[string]any{"verify": "not a list"}
	if f := Verify(context.Background(), e, p, Options{}); f == nil || f.Gate != GateProbe || !strings.Contains(f.Reason, "x-berth") {
		t.Errorf("a bad x-berth verify: %+v", f)
	}
}

// TestProjectContainers: one-off and set-aside containers do not count,
// and the rest come by service, then number.
func TestProjectContainers(t *testing.T) {
	oneoff := summary("r1", "shop-web-run-1", "web", "1", container.StateRunning)
	oneoff.Labels["com.docker.compose.oneoff"] = "True"
	e := &fakeEngine{list: func() []container.Summary {
		return []container.Summary{
			summary("w10", "shop-web-10", "web", "10", container.StateRunning),
			oneoff,
			summary("w2", "shop-web-2", "web", "2", container.StateRunning),
			summary("a1", "shop-web-2_replaced_abc", "web", "2", container.StateExited),
			summary("d1", "shop-db-1", "db", "1", container.StateRunning),
		}
	}}
	cs, err := projectContainers(context.Background(), e, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, " ") != "d1 w2 w10" {
		t.Errorf("containers %v, want d1 w2 w10", ids)
	}
}
