package webhook

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestObserve: each delivery to an enabled provider is reported once with
// its provider and the class of its result, never the text a sender chose
// (an event name, a ref); a provider that is off is not reported.
func TestObserve(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	cfg := allOn()
	cfg.GitLabToken = nil
	cfg.Observe = func(provider, result string, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if took < 0 {
			t.Errorf("%s %s took %s", provider, result, took)
		}
		seen = append(seen, provider+" "+result)
	}
	h, _, _ := newHandler(t, cfg)
	github := hosts[0]

	hdr, b := signed(t, github, "refs/heads/main", "fixed")
	post(h, "/hooks/github", hdr, b) // accepted
	post(h, "/hooks/github", hdr, b) // the same delivery again: ignored
	hdr, b = signed(t, github, "refs/heads/feature-x", newID())
	post(h, "/hooks/github", hdr, b) // not the followed ref: ignored
	hdr, b = signed(t, github, "refs/heads/main", newID())
	github.sign(hdr, b, "not-the-secret")
	post(h, "/hooks/github", hdr, b) // rejected
	hdr = http.Header{}
	github.meta(hdr, "ping", newID())
	github.sign(hdr, []byte(`{}`), secret)
	post(h, "/hooks/github", hdr, []byte(`{}`)) // ping
	hdr, b = signed(t, hosts[3], "refs/heads/main", newID())
	post(h, "/hooks/gitlab", hdr, b) // off: 404, not reported

	want := []string{"github accepted", "github ignored", "github ignored", "github rejected", "github ping"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, want) {
		t.Fatalf("observed %q, want %q", seen, want)
	}
}
