package controller

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/controller/store"
)

// TestPublicHandlerHasNoControlRoutes: the TCP listener serves health and
// metrics only; status, history and the actions are on the control socket.
func TestPublicHandlerHasNoControlRoutes(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := New(Options{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	pub, ctl := c.PublicHandler(), c.ControlHandler()
	for _, tc := range []struct {
		method, path   string
		public, socket int
	}{
		{"GET", "/healthz", 200, 200},
		{"GET", "/metrics", 200, 404},
		{"GET", "/status", 404, 200},
		{"GET", "/history/shop", 404, 200},
		{"POST", "/stacks/shop/rollback?to=abc", 404, 404}, // 404 on the socket: no such stack
		{"POST", "/stacks/shop/resume", 404, 404},
	} {
		for _, h := range []struct {
			name string
			h    http.Handler
			want int
		}{{"TCP", pub, tc.public}, {"socket", ctl, tc.socket}} {
			w := httptest.NewRecorder()
			h.h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
			if w.Code != h.want {
				t.Errorf("%s %s on the %s: %d, want %d", tc.method, tc.path, h.name, w.Code, h.want)
			}
			if h.name == "socket" && strings.HasPrefix(tc.path, "/stacks/") && !strings.Contains(w.Body.String(), "unknown stack") {
				t.Errorf("%s %s on the socket did not reach Act: %s", tc.method, tc.path, w.Body)
			}
		}
	}
}
