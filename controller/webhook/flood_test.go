package webhook

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingBody records whether the handler read the body at all.
type countingBody struct {
	r     *bytes.Reader
	reads atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	b.reads.Add(1)
	return b.r.Read(p)
}

// TestRefusedBeforeTheBodyIsRead: a request whose signature header is
// missing or malformed is refused from its headers alone, and its
// connection is closed so that the sender stops streaming.
func TestRefusedBeforeTheBodyIsRead(t *testing.T) {
	mac := strings.Repeat("ab", 32)
	cases := []struct {
		path, name, header, value, message string
	}{
		{"github", "none", "", "", "no signature"},
		{"github", "sha1 only", "X-Hub-Signature", "sha1=" + strings.Repeat("ab", 20), "sha256 signature is required"},
		{"github", "no prefix", "X-Hub-Signature-256", mac, "malformed"},
		{"github", "short", "X-Hub-Signature-256", "sha256=" + mac[:62], "malformed"},
		{"github", "long", "X-Hub-Signature-256", "sha256=" + mac + "ab", "malformed"},
		{"github", "not hex", "X-Hub-Signature-256", "sha256=" + strings.Repeat("zz", 32), "malformed"},
		{"gitea", "none", "", "", "no signature"},
		{"gitea", "prefixed", "X-Gitea-Signature", "sha256=" + mac, "malformed"},
		{"gitea", "short", "X-Forgejo-Signature", mac[:10], "malformed"},
		{"gitea", "sha1 only", "X-Hub-Signature", "sha1=" + strings.Repeat("ab", 20), "sha256 signature is required"},
		{"gitlab", "none", "", "", "no signature"},
		{"bitbucket", "none", "", "", "no signature"},
		{"bitbucket", "sha512", "X-Hub-Signature", "sha512=" + mac + mac, "malformed"},
		{"generic", "none", "", "", "no signature"},
		{"generic", "empty hex", "X-Signature", "sha256=", "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.path+" "+tc.name, func(t *testing.T) {
			h, rec, _ := newHandler(t, allOn())
			body := &countingBody{r: bytes.NewReader(refPush("refs/heads/main"))}
			req := httptest.NewRequest(http.MethodPost, "/hooks/"+tc.path, body)
			if tc.header != "" {
				req.Header.Set(tc.header, tc.value)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), tc.message) {
				t.Fatalf("%d %q, want 401 %q", w.Code, w.Body.String(), tc.message)
			}
			if n := body.reads.Load(); n != 0 {
				t.Errorf("the body was read (%d reads) before the request was refused", n)
			}
			if w.Header().Get("Connection") != "close" {
				t.Error("the refusal leaves the connection open")
			}
			if rec.count() != 0 {
				t.Error("a refused request triggered")
			}
		})
	}
}

// blockingBody hands out one byte, says so, and then blocks until
// released.
type blockingBody struct {
	started, release chan struct{}
	sent             bool
}

func (b *blockingBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		close(b.started)
		p[0] = '{'
		return 1, nil
	}
	<-b.release
	return 0, fmt.Errorf("the sender went away")
}

// TestDeliveriesInProgressAreBounded: past MaxConcurrent deliveries whose
// bodies are being read, another is answered 503 with Retry-After at once,
// without its body read; once a place is free, deliveries go through.
func TestDeliveriesInProgressAreBounded(t *testing.T) {
	cfg := allOn()
	cfg.MaxConcurrent = 2
	h, rec, _ := newHandler(t, cfg)
	hdr, _ := signed(t, hosts[0], "refs/heads/main", "x")
	var slow []*blockingBody
	done := make(chan int, 2)
	for range 2 {
		b := &blockingBody{started: make(chan struct{}), release: make(chan struct{})}
		slow = append(slow, b)
		req := httptest.NewRequest(http.MethodPost, "/hooks/github", b)
		req.Header = hdr.Clone()
		go func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			done <- w.Code
		}()
		<-b.started
	}

	hdr2, body := signed(t, hosts[0], "refs/heads/main", newID())
	counted := &countingBody{r: bytes.NewReader(body)}
	req := httptest.NewRequest(http.MethodPost, "/hooks/github", counted)
	req.Header = hdr2
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || w.Header().Get("Connection") != "close" {
		t.Fatalf("a delivery past the bound: %d, Retry-After %q, Connection %q; want 503, a Retry-After, close",
			w.Code, w.Header().Get("Retry-After"), w.Header().Get("Connection"))
	}
	if counted.reads.Load() != 0 {
		t.Error("a delivery past the bound had its body read")
	}

	for _, b := range slow {
		close(b.release)
		if code := <-done; code != http.StatusBadRequest {
			t.Errorf("a delivery whose sender went away: %d, want 400", code)
		}
	}
	hdr3, body3 := signed(t, hosts[0], "refs/heads/main", newID())
	if w := post(h, "/hooks/github", hdr3, body3); w.Code != http.StatusAccepted {
		t.Fatalf("once the places are free: %d %q, want 202", w.Code, w.Body)
	}
	if rec.count() != 1 {
		t.Errorf("%d triggers, want 1", rec.count())
	}
}

// TestSlowBodyLosesItsPlace: a sender that sends a well-formed signature
// and then trickles its body is cut off after BodyTimeout (408), and its
// place goes to the next delivery.
func TestSlowBodyLosesItsPlace(t *testing.T) {
	cfg := allOn()
	cfg.MaxConcurrent = 1
	cfg.BodyTimeout = 200 * time.Millisecond
	h, rec, _ := newHandler(t, cfg)
	srv := httptest.NewServer(h)
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /hooks/generic HTTP/1.1\r\nHost: x\r\nX-Signature: sha256=%s\r\nContent-Length: 100\r\n\r\n{\"ref\":", strings.Repeat("ab", 32))
	// A bound on the test, not a measurement: without the body deadline the
	// answer would never come.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a trickled body: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("a trickled body: %d, want 408", res.StatusCode)
	}

	hdr, body := signed(t, hosts[len(hosts)-1], "refs/heads/main", newID())
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hooks/generic", bytes.NewReader(body))
	req.Header = hdr
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("the delivery after the trickled one: %d, want 202", res.StatusCode)
	}
	// The trigger runs after the answer is out.
	waitUntil(t, "the trigger", 10*time.Second, func() bool { return rec.count() == 1 })
}

// TestRefusalsLogWithinABudget: a flood of forged requests gets
// refusalLines log lines a second, and the next line says how many were
// left out; authentic deliveries are always logged.
func TestRefusalsLogWithinABudget(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := allOn()
	cfg.Now = func() time.Time { return now }
	h, _, logs := newHandler(t, cfg)
	for range 3 * refusalLines {
		if w := post(h, "/hooks/github", http.Header{}, []byte("{}")); w.Code != http.StatusUnauthorized {
			t.Fatalf("unsigned: %d", w.Code)
		}
	}
	if n := strings.Count(logs.String(), "no signature"); n != refusalLines {
		t.Fatalf("%d refusals logged within a second, want %d", n, refusalLines)
	}
	hdr, body := signed(t, hosts[0], "refs/heads/main", newID())
	if w := post(h, "/hooks/github", hdr, body); w.Code != http.StatusAccepted {
		t.Fatalf("signed: %d", w.Code)
	}
	if !strings.Contains(logs.String(), "outcome=accepted") {
		t.Fatal("an accepted delivery was not logged past the budget")
	}
	now = now.Add(time.Second)
	post(h, "/hooks/github", http.Header{}, []byte("{}"))
	if want := fmt.Sprintf("refusals_not_logged=%d", 2*refusalLines); !strings.Contains(logs.String(), want) {
		t.Fatalf("the line after the budget does not say %s:\n%s", want, logs)
	}
}
