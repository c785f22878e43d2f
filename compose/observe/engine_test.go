package observe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The engines berth must refuse are not on this machine, so their ping is
// played by a server that answers /_ping the way such an engine does: the
// behaviour under test is berth's verdict on the version, not the engine's.
func TestConnectRefusesOldEngines(t *testing.T) {
	cases := []struct {
		version string
		want    string
	}{
		{"1.41", ""},
		{"1.40", "speaks API 1.40; berth needs API 1.41 or newer"},
		{"1.38", "speaks API 1.38; berth needs API 1.41 or newer"},
		{"", "did not say which API version it speaks"},
	}
	for _, tc := range cases {
		t.Run("api "+tc.version, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/_ping") {
					http.NotFound(w, r)
					return
				}
				if tc.version != "" {
					w.Header().Set("Api-Version", tc.version)
				}
				w.Header().Set("Ostype", "linux")
				_, _ = w.Write([]byte("OK"))
			}))
			defer srv.Close()
			t.Setenv("DOCKER_HOST", "tcp://"+strings.TrimPrefix(srv.URL, "http://"))
			t.Setenv("DOCKER_API_VERSION", "")
			c, err := Connect(context.Background())
			if tc.want == "" {
				if err != nil {
					t.Fatalf("API %s refused: %v", tc.version, err)
				}
				if got := c.ClientVersion(); got != tc.version {
					t.Errorf("negotiated %s, want %s", got, tc.version)
				}
				_ = c.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestConnectNamesAnEngineThatDoesNotAnswer(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	_, err := Connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no Docker engine answers at unix:///nonexistent/docker.sock") {
		t.Fatalf("got %v", err)
	}
}
