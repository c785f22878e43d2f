package rollout

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose"
)

// noContainers is an engine on which the stack has no container.
type noContainers struct{ Engine }

func (noContainers) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{}, nil
}

// TestHTTPProbeStaysOffTheHost: a probe whose host is not the stack's is
// not dialled on the host's own or link-local addresses, which only
// berth's network namespace reaches.
func TestHTTPProbeStaysOffTheHost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("host-only admin page"))
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	p := &types.Project{Name: "shop", Services: types.Services{"web": {Name: "web"}}}
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/", "http://[::ffff:127.0.0.1]:" + port + "/", "http://169.254.169.254:" + port + "/latest/meta-data/"} {
		f := httpProbe(context.Background(), noContainers{}, p, &compose.HTTPProbe{URL: u, Status: 200, Body: "admin"})
		if f == nil || !strings.Contains(f.Reason, "link-local address") {
			t.Errorf("probe of %s: want it refused, got %+v", u, f)
		}
	}
}
