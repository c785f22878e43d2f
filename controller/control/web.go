package control

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Hosts are the host names the TCP listener answers to.
type Hosts map[string]bool

// LoopbackNames are always answered to: a DNS-rebinding page reaches the
// listener under its own name, never under these.
var LoopbackNames = []string{"localhost", "127.0.0.1", "::1"}

// AllowedHosts is the loopback names, the listen address's host (unless it
// is a wildcard like ":9300" or "0.0.0.0:9300") and the names configured.
func AllowedHosts(listen string, names []string) Hosts {
	h := Hosts{}
	for _, n := range LoopbackNames {
		h[n] = true
	}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
			h[canonical(host)] = true
		}
	}
	for _, n := range names {
		h[canonical(n)] = true
	}
	return h
}

// canonical is a host name as compared: lower case, no brackets, no
// trailing dot.
func canonical(host string) string {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// Has reports whether a Host header (or an Origin's host), with or
// without a port, is one of the names.
func (h Hosts) Has(hostport string) bool {
	host := hostport
	if hp, _, err := net.SplitHostPort(hostport); err == nil {
		host = hp
	}
	return host != "" && h[canonical(host)]
}

// Guard refuses, before h sees them, requests that name another host
// (421: a DNS-rebinding page, or a name nobody configured) and requests
// a browser sends from another site (403: a page POSTing to the listener).
// Git hosts' webhooks carry neither Origin nor Sec-Fetch-Site.
func (h Hosts) Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.Has(r.Host) {
			http.Error(w, "unknown host name", http.StatusMisdirectedRequest)
			return
		}
		if crossSite(r, h) {
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// crossSite reports whether a browser sent r from a page of another site.
func crossSite(r *http.Request, h Hosts) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return true // "null" (sandboxed frames, file:) and garbage
	}
	return !h.Has(u.Host)
}
