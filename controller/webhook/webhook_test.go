package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const secret = "s3cret-canary-0c1d"

// host signs a delivery exactly as one Git host does.
type host struct {
	name  string // the path under /hooks/
	push  func(ref string) []byte
	event string // the push event
	sign  func(h http.Header, body []byte, secret string)
	meta  func(h http.Header, event, id string)
	sha1  func(h http.Header, body []byte, secret string) // nil: the host has no SHA-1 scheme
}

func hexHMAC(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func hexHMAC1(key string, body []byte) string {
	m := hmac.New(sha1.New, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func refPush(ref string) []byte {
	return fmt.Appendf(nil, `{"ref":%q,"before":"0000","after":"abcd","repository":{"full_name":"infra/deploy"},"pusher":{"name":"ops"}}`, ref)
}

var hosts = []host{
	{
		name: "github", push: refPush, event: "push",
		sign: func(h http.Header, b []byte, s string) { h.Set("X-Hub-Signature-256", "sha256="+hexHMAC(s, b)) },
		sha1: func(h http.Header, b []byte, s string) { h.Set("X-Hub-Signature", "sha1="+hexHMAC1(s, b)) },
		meta: func(h http.Header, ev, id string) {
			h.Set("X-GitHub-Event", ev)
			h.Set("X-GitHub-Delivery", id)
			h.Set("User-Agent", "GitHub-Hookshot/abc")
		},
	},
	{
		// Gitea 1.26 sends every one of these (services/webhook/deliver.go).
		name: "gitea", push: refPush, event: "push",
		sign: func(h http.Header, b []byte, s string) {
			h.Set("X-Gitea-Signature", hexHMAC(s, b))
			h.Set("X-Gogs-Signature", hexHMAC(s, b))
			h.Set("X-Hub-Signature", "sha1="+hexHMAC1(s, b))
			h.Set("X-Hub-Signature-256", "sha256="+hexHMAC(s, b))
		},
		sha1: func(h http.Header, b []byte, s string) { h.Set("X-Hub-Signature", "sha1="+hexHMAC1(s, b)) },
		meta: func(h http.Header, ev, id string) {
			h.Set("X-Gitea-Event", ev)
			h.Set("X-Gitea-Event-Type", ev)
			h.Set("X-Gitea-Delivery", id)
			h.Set("X-GitHub-Event", ev)
			h.Set("X-GitHub-Delivery", id)
		},
	},
	{
		name: "gitea", push: refPush, event: "push", // as Forgejo sends it
		sign: func(h http.Header, b []byte, s string) { h.Set("X-Forgejo-Signature", hexHMAC(s, b)) },
		sha1: func(h http.Header, b []byte, s string) { h.Set("X-Hub-Signature", "sha1="+hexHMAC1(s, b)) },
		meta: func(h http.Header, ev, id string) {
			h.Set("X-Forgejo-Event", ev)
			h.Set("X-Forgejo-Delivery", id)
		},
	},
	{
		name: "gitlab", event: "Push Hook",
		push: func(ref string) []byte {
			return fmt.Appendf(nil, `{"object_kind":"push","event_name":"push","ref":%q,"checkout_sha":"abcd","project":{"path_with_namespace":"infra/deploy"}}`, ref)
		},
		sign: func(h http.Header, _ []byte, s string) { h.Set("X-Gitlab-Token", s) },
		meta: func(h http.Header, ev, id string) {
			h.Set("X-Gitlab-Event", ev)
			h.Set("X-Gitlab-Event-UUID", id)
			h.Set("X-Gitlab-Webhook-UUID", "same-for-every-delivery")
		},
	},
	{
		name: "bitbucket", event: "repo:push",
		push: func(ref string) []byte {
			typ, name := "branch", strings.TrimPrefix(ref, "refs/heads/")
			if n, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
				typ, name = "tag", n
			}
			return fmt.Appendf(nil, `{"push":{"changes":[{"new":{"type":%q,"name":%q,"target":{"hash":"abcd"}},"old":{"type":%q,"name":%q}}]},"repository":{"full_name":"infra/deploy"}}`, typ, name, typ, name)
		},
		sign: func(h http.Header, b []byte, s string) { h.Set("X-Hub-Signature", "sha256="+hexHMAC(s, b)) },
		sha1: func(h http.Header, b []byte, s string) { h.Set("X-Hub-Signature", "sha1="+hexHMAC1(s, b)) },
		meta: func(h http.Header, ev, id string) {
			h.Set("X-Event-Key", ev)
			h.Set("X-Request-UUID", id)
			h.Set("X-Hook-UUID", "{same-for-every-delivery}")
			h.Set("X-Attempt-Number", "1")
		},
	},
	{
		name: "generic", event: "push",
		push: func(ref string) []byte { return fmt.Appendf(nil, `{"ref":%q}`, ref) },
		sign: func(h http.Header, b []byte, s string) { h.Set("X-Signature", "sha256="+hexHMAC(s, b)) },
		sha1: func(h http.Header, b []byte, s string) { h.Set("X-Signature", "sha1="+hexHMAC1(s, b)) },
		meta: func(h http.Header, _, id string) { h.Set("X-Delivery", id) },
	},
}

func allOn() Config {
	s := []byte(secret)
	return Config{GitHubSecret: s, GiteaSecret: s, GitLabToken: s, BitbucketSecret: s, GenericSecret: s, Branch: "main"}
}

// recorder counts triggers and keeps their reasons.
type recorder struct {
	mu      sync.Mutex
	reasons []string
}

func (r *recorder) trigger(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reasons = append(r.reasons, reason)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reasons)
}

func newHandler(t testing.TB, cfg Config) (http.Handler, *recorder, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	rec := &recorder{}
	return New(cfg, rec.trigger), rec, &logs
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func post(h http.Handler, path string, hdr http.Header, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

var deliveryN atomic.Int64

func newID() string { return fmt.Sprintf("d-%d", deliveryN.Add(1)) }

func TestProviders(t *testing.T) {
	for i, hst := range hosts {
		t.Run(fmt.Sprintf("%s-%d", hst.name, i), func(t *testing.T) {
			body := hst.push("refs/heads/main")
			cases := []struct {
				name    string
				mutate  func(h http.Header, body []byte) []byte
				status  int
				message string
				skip    bool
			}{
				{name: "valid", status: 202, mutate: func(h http.Header, b []byte) []byte { hst.sign(h, b, secret); return b }},
				{name: "wrong secret", status: 401, message: "does not match",
					mutate: func(h http.Header, b []byte) []byte { hst.sign(h, b, "not-the-secret"); return b }},
				{name: "missing header", status: 401, message: "no signature",
					mutate: func(h http.Header, b []byte) []byte { return b }},
				{name: "sha1 only", status: 401, message: "sha256 signature is required", skip: hst.sha1 == nil,
					mutate: func(h http.Header, b []byte) []byte { hst.sha1(h, b, secret); return b }},
				// GitLab's token does not cover the body: a tampered body
				// with the right token is authentic to GitLab's scheme.
				{name: "tampered body", status: 401, message: "does not match", skip: hst.name == "gitlab",
					mutate: func(h http.Header, b []byte) []byte {
						hst.sign(h, b, secret)
						return bytes.Replace(b, []byte("main"), []byte("mainx"), 1)
					}},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					if tc.skip {
						t.Skip("not part of this host's scheme")
					}
					h, rec, logs := newHandler(t, allOn())
					hdr := http.Header{}
					hst.meta(hdr, hst.event, newID())
					b := tc.mutate(hdr, bytes.Clone(body))
					w := post(h, "/hooks/"+hst.name, hdr, b)
					if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.message) {
						t.Fatalf("%d %q, want %d %q", w.Code, w.Body.String(), tc.status, tc.message)
					}
					want := 0
					if tc.status == 202 {
						want = 1
					}
					if rec.count() != want {
						t.Fatalf("trigger called %d times, want %d", rec.count(), want)
					}
					if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "repository") {
						t.Fatalf("log leaks the secret or the body: %s", logs)
					}
					if n := strings.Count(logs.String(), "\n"); n != 1 {
						t.Fatalf("%d log lines, want 1: %s", n, logs)
					}
				})
			}
		})
	}
}

func signed(t testing.TB, hst host, ref, id string) (http.Header, []byte) {
	t.Helper()
	hdr := http.Header{}
	hst.meta(hdr, hst.event, id)
	b := hst.push(ref)
	hst.sign(hdr, b, secret)
	return hdr, b
}

func TestFollowedRefOnly(t *testing.T) {
	for _, hst := range hosts {
		h, rec, _ := newHandler(t, allOn())
		hdr, b := signed(t, hst, "refs/heads/dev", newID())
		if w := post(h, "/hooks/"+hst.name, hdr, b); w.Code != 200 || !strings.Contains(w.Body.String(), "not the followed ref") {
			t.Errorf("%s: push to dev: %d %q", hst.name, w.Code, w.Body)
		}
		hdr, b = signed(t, hst, "refs/tags/main", newID())
		if w := post(h, "/hooks/"+hst.name, hdr, b); w.Code != 200 {
			t.Errorf("%s: tag named like the branch: %d %q", hst.name, w.Code, w.Body)
		}
		if rec.count() != 0 {
			t.Errorf("%s: triggered by a push elsewhere", hst.name)
		}
	}
}

func TestFollowedTag(t *testing.T) {
	cfg := allOn()
	cfg.Branch, cfg.Tag = "", "prod"
	for _, hst := range hosts {
		h, rec, _ := newHandler(t, cfg)
		hdr, b := signed(t, hst, "refs/heads/main", newID())
		post(h, "/hooks/"+hst.name, hdr, b)
		hdr, b = signed(t, hst, "refs/tags/prod", newID())
		if hst.name == "gitlab" {
			b = []byte(`{"object_kind":"tag_push","ref":"refs/tags/prod"}`)
			hdr.Set("X-Gitlab-Event", "Tag Push Hook")
		}
		if w := post(h, "/hooks/"+hst.name, hdr, b); w.Code != 202 {
			t.Errorf("%s: tag push: %d %q", hst.name, w.Code, w.Body)
		}
		if rec.count() != 1 {
			t.Errorf("%s: %d triggers, want 1", hst.name, rec.count())
		}
	}
}

func TestPing(t *testing.T) {
	h, rec, _ := newHandler(t, allOn())
	ping := []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)
	hdr := http.Header{}
	hdr.Set("X-GitHub-Event", "ping")
	hdr.Set("X-GitHub-Delivery", newID())
	hdr.Set("X-Hub-Signature-256", "sha256="+hexHMAC(secret, ping))
	if w := post(h, "/hooks/github", hdr, ping); w.Code != 200 || !strings.Contains(w.Body.String(), "ping") {
		t.Errorf("github ping: %d %q", w.Code, w.Body)
	}
	bb := []byte(`{"test":true}`)
	hdr = http.Header{}
	hdr.Set("X-Event-Key", "diagnostics:ping")
	hdr.Set("X-Request-Id", newID())
	hdr.Set("X-Hub-Signature", "sha256="+hexHMAC(secret, bb))
	if w := post(h, "/hooks/bitbucket", hdr, bb); w.Code != 200 || !strings.Contains(w.Body.String(), "ping") {
		t.Errorf("bitbucket ping: %d %q", w.Code, w.Body)
	}
	// A ping must be signed too.
	hdr.Del("X-Hub-Signature")
	if w := post(h, "/hooks/bitbucket", hdr, bb); w.Code != 401 {
		t.Errorf("unsigned ping: %d", w.Code)
	}
	if rec.count() != 0 {
		t.Error("a ping triggered")
	}
}

func TestOtherEventsIgnored(t *testing.T) {
	h, rec, _ := newHandler(t, allOn())
	b := []byte(`{"action":"opened","number":1}`)
	hdr := http.Header{}
	hdr.Set("X-GitHub-Event", "pull_request")
	hdr.Set("X-Hub-Signature-256", "sha256="+hexHMAC(secret, b))
	if w := post(h, "/hooks/github", hdr, b); w.Code != 200 || !strings.Contains(w.Body.String(), `"pull_request" is not a push`) {
		t.Errorf("pull_request: %d %q", w.Code, w.Body)
	}
	mr := []byte(`{"object_kind":"merge_request"}`)
	hdr = http.Header{}
	hdr.Set("X-Gitlab-Event", "Merge Request Hook")
	hdr.Set("X-Gitlab-Token", secret)
	if w := post(h, "/hooks/gitlab", hdr, mr); w.Code != 200 {
		t.Errorf("merge request: %d %q", w.Code, w.Body)
	}
	if rec.count() != 0 {
		t.Error("a non-push event triggered")
	}
}

func TestBodyTooLarge(t *testing.T) {
	h, rec, _ := newHandler(t, allOn())
	big := refPush("refs/heads/main")
	big = append(big[:len(big)-1], []byte(`,"pad":"`+strings.Repeat("x", MaxBody)+`"}`)...)
	hdr := http.Header{}
	hdr.Set("X-GitHub-Event", "push")
	hdr.Set("X-Hub-Signature-256", "sha256="+hexHMAC(secret, big))
	if w := post(h, "/hooks/github", hdr, big); w.Code != 413 {
		t.Errorf("known length: %d", w.Code)
	}
	// Without a Content-Length (chunked), the reader stops at the limit.
	req := httptest.NewRequest(http.MethodPost, "/hooks/github", io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	for k, v := range hdr {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 413 {
		t.Errorf("unknown length: %d", w.Code)
	}
	// Exactly the limit is fine.
	ok := refPush("refs/heads/main")
	ok = append(ok[:len(ok)-1], []byte(`,"pad":"`)...)
	ok = append(ok, []byte(strings.Repeat("x", MaxBody-len(ok)-2)+`"}`)...)
	hdr.Set("X-Hub-Signature-256", "sha256="+hexHMAC(secret, ok))
	if w := post(h, "/hooks/github", hdr, ok); w.Code != 202 {
		t.Errorf("a body of exactly 1 MiB: %d %q", w.Code, w.Body)
	}
	if rec.count() != 1 {
		t.Errorf("%d triggers, want 1", rec.count())
	}
}

func TestDuplicateDelivery(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := allOn()
	cfg.Now = func() time.Time { return now }
	for _, hst := range hosts {
		h, rec, _ := newHandler(t, cfg)
		id := newID()
		hdr, b := signed(t, hst, "refs/heads/main", id)
		first := post(h, "/hooks/"+hst.name, hdr, b)
		again := post(h, "/hooks/"+hst.name, hdr, b)
		if first.Code != 202 || again.Code != 200 || !strings.Contains(again.Body.String(), "duplicate") {
			t.Errorf("%s: first %d, again %d %q", hst.name, first.Code, again.Code, again.Body)
		}
		if rec.count() != 1 {
			t.Errorf("%s: %d triggers, want 1", hst.name, rec.count())
		}
		// A forged copy does not poison the memory: only authentic IDs count.
		hdr2, b2 := signed(t, hst, "refs/heads/main", newID())
		bad := hdr2.Clone()
		hst.sign(bad, b2, "wrong")
		post(h, "/hooks/"+hst.name, bad, b2)
		if w := post(h, "/hooks/"+hst.name, hdr2, b2); w.Code != 202 {
			t.Errorf("%s: after a forged copy: %d", hst.name, w.Code)
		}
	}
	// After the window the same ID counts again.
	h, rec, _ := newHandler(t, cfg)
	hdr, b := signed(t, hosts[0], "refs/heads/main", "fixed")
	post(h, "/hooks/github", hdr, b)
	now = now.Add(DefaultDedupeWindow)
	if w := post(h, "/hooks/github", hdr, b); w.Code != 202 || rec.count() != 2 {
		t.Errorf("after the window: %d, %d triggers", w.Code, rec.count())
	}
}

func TestSeenIsBounded(t *testing.T) {
	now := time.Unix(0, 0)
	s := newSeen(3, time.Hour, func() time.Time { return now })
	for _, k := range []string{"a", "b", "c", "d"} {
		now = now.Add(time.Second)
		if !s.add(k) {
			t.Fatalf("%s not new", k)
		}
	}
	if len(s.at) != 3 || len(s.order) != 3 {
		t.Fatalf("holds %d/%d entries, want 3", len(s.at), len(s.order))
	}
	if !s.add("a") { // pushed out by size
		t.Fatal("a still remembered")
	}
	if s.add("d") {
		t.Fatal("d forgotten")
	}
	now = now.Add(time.Hour)
	if !s.add("d") || len(s.at) != 1 {
		t.Fatalf("window not applied: %d entries", len(s.at))
	}
}

func TestProviderOffAndMethod(t *testing.T) {
	h, _, _ := newHandler(t, Config{GitHubSecret: []byte(secret), Branch: "main"})
	for _, p := range []string{"/hooks/gitea", "/hooks/gitlab", "/hooks/bitbucket", "/hooks/generic", "/hooks/other", "/hooks/"} {
		if w := post(h, p, nil, nil); w.Code != 404 {
			t.Errorf("%s: %d, want 404", p, w.Code)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/hooks/github", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 405 || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d %q", w.Code, w.Header().Get("Allow"))
	}
	if (Config{}).Enabled() || !(Config{GenericSecret: []byte("x")}).Enabled() {
		t.Error("Enabled is wrong")
	}
}

// Both hosts can send a form (payload=…): GitHub signs the raw body, Gitea
// the JSON inside it.
func TestFormPayloads(t *testing.T) {
	h, rec, _ := newHandler(t, allOn())
	js := refPush("refs/heads/main")
	form := []byte(url.Values{"payload": {string(js)}}.Encode())
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/x-www-form-urlencoded")
	hdr.Set("X-GitHub-Event", "push")
	hdr.Set("X-Hub-Signature-256", "sha256="+hexHMAC(secret, form))
	if w := post(h, "/hooks/github", hdr, form); w.Code != 202 {
		t.Errorf("github form: %d %q", w.Code, w.Body)
	}
	hdr = http.Header{}
	hdr.Set("Content-Type", "application/x-www-form-urlencoded")
	hdr.Set("X-Gitea-Event", "push")
	hdr.Set("X-Gitea-Signature", hexHMAC(secret, js))
	hdr.Set("X-Hub-Signature-256", "sha256="+hexHMAC(secret, js))
	if w := post(h, "/hooks/gitea", hdr, form); w.Code != 202 {
		t.Errorf("gitea form: %d %q", w.Code, w.Body)
	}
	if rec.count() != 2 {
		t.Errorf("%d triggers", rec.count())
	}
}

func TestBitbucketDataCenterAndDeletion(t *testing.T) {
	h, rec, _ := newHandler(t, allOn())
	dc := []byte(`{"eventKey":"repo:refs_changed","changes":[{"ref":{"id":"refs/heads/main","displayId":"main","type":"BRANCH"},"refId":"refs/heads/main","type":"UPDATE"}]}`)
	hdr := http.Header{}
	hdr.Set("X-Event-Key", "repo:refs_changed")
	hdr.Set("X-Request-Id", newID())
	hdr.Set("X-Hub-Signature", "sha256="+hexHMAC(secret, dc))
	if w := post(h, "/hooks/bitbucket", hdr, dc); w.Code != 202 {
		t.Errorf("data center push: %d %q", w.Code, w.Body)
	}
	del := []byte(`{"push":{"changes":[{"new":null,"old":{"type":"branch","name":"main"}}]}}`)
	hdr = http.Header{}
	hdr.Set("X-Event-Key", "repo:push")
	hdr.Set("X-Hub-Signature", "sha256="+hexHMAC(secret, del))
	if w := post(h, "/hooks/bitbucket", hdr, del); w.Code != 200 {
		t.Errorf("branch deletion: %d %q", w.Code, w.Body)
	}
	if rec.count() != 1 {
		t.Errorf("%d triggers, want 1", rec.count())
	}
}

func TestGenericPayloads(t *testing.T) {
	h, rec, _ := newHandler(t, allOn())
	for _, tc := range []struct {
		body   string
		status int
	}{
		{"", 202}, {"{}", 202}, {`{"ref":"refs/heads/main"}`, 202}, {`{"ref":"main"}`, 202},
		{`{"ref":"refs/heads/dev"}`, 200}, {"not json", 400},
	} {
		hdr := http.Header{}
		hdr.Set("X-Signature", "sha256="+hexHMAC(secret, []byte(tc.body)))
		if w := post(h, "/hooks/generic", hdr, []byte(tc.body)); w.Code != tc.status {
			t.Errorf("%q: %d %q, want %d", tc.body, w.Code, w.Body, tc.status)
		}
	}
	if rec.count() != 4 {
		t.Errorf("%d triggers, want 4", rec.count())
	}
}

// The sender has the whole 202 before the trigger runs: here the trigger
// waits until the client has read the answer.
func TestAnswerBeforeTrigger(t *testing.T) {
	answered := make(chan struct{})
	triggered := make(chan string, 1)
	h := New(allOn(), func(reason string) {
		select {
		case <-answered:
			triggered <- reason
		case <-time.After(5 * time.Second):
			triggered <- "timed out: the answer did not arrive before the trigger ran"
		}
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	hdr, b := signed(t, hosts[0], "refs/heads/main", "abc-123")
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hooks/github", bytes.NewReader(b))
	req.Header = hdr
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 202 || string(body) != "accepted\n" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, err)
	}
	close(answered)
	if got := <-triggered; got != "github webhook: push to refs/heads/main (delivery abc-123)" {
		t.Fatalf("trigger reason %q", got)
	}
}
