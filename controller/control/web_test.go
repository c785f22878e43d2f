package control

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGuardRefusesOtherHostsAndOtherSites(t *testing.T) {
	hosts := AllowedHosts("127.0.0.1:9300", []string{"berth.example.com"})
	h := hosts.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret status")) }))
	cases := []struct {
		name, host string
		header     map[string]string
		want       int
	}{
		{"loopback", "127.0.0.1:9300", nil, 200},
		{"localhost", "localhost:9300", nil, 200},
		{"ipv6 loopback", "[::1]:9300", nil, 200},
		{"configured name, upper case, trailing dot", "Berth.Example.COM.", nil, 200},
		{"webhook from a Git host", "berth.example.com", map[string]string{"User-Agent": "GitHub-Hookshot/1"}, 200},
		{"same-origin fetch", "127.0.0.1:9300", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:9300"}, 200},
		{"typed into the address bar", "127.0.0.1:9300", map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{"DNS rebinding", "evil.example:9300", nil, 421},
		{"no host", "", nil, 421},
		{"cross-site POST", "127.0.0.1:9300", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site POST", "localhost:9300", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"foreign Origin, old browser", "127.0.0.1:9300", map[string]string{"Origin": "http://evil.example"}, 403},
		{"null Origin", "127.0.0.1:9300", map[string]string{"Origin": "null"}, 403},
		{"Origin on a loopback name", "127.0.0.1:9300", map[string]string{"Origin": "http://localhost:8080"}, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/hooks/generic", nil)
			r.Host = tc.host
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			if tc.want != 200 && (strings.Contains(w.Body.String(), "secret") || w.Body.Len() > 40) {
				t.Fatalf("refusal body says more than a short reason: %q", w.Body)
			}
		})
	}
}

func TestAllowedHostsDefaults(t *testing.T) {
	for _, tc := range []struct {
		listen string
		want   map[string]bool
	}{
		{"127.0.0.1:9300", map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "10.0.0.5": false}},
		{"10.0.0.5:9300", map[string]bool{"10.0.0.5": true, "localhost": true, "0.0.0.0": false}},
		{":9300", map[string]bool{"localhost": true, "": false}},
		{"0.0.0.0:9300", map[string]bool{"0.0.0.0": false, "127.0.0.1": true}},
		{"[::]:9300", map[string]bool{"::": false, "[::1]:1": true}},
	} {
		h := AllowedHosts(tc.listen, nil)
		for host, want := range tc.want {
			if got := h.Has(host); got != want {
				t.Errorf("listen %s: Has(%q) = %v, want %v", tc.listen, host, got, want)
			}
		}
	}
}
