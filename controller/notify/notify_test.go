package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The token part of every sink URL in these tests; it must never be logged.
const token = "T0KEN-canary-91b2"

var event = Event{
	Kind: DeployFailed, Host: "vps-1", Stack: "shop", Commit: "0123456789abcdef0123456789abcdef01234567",
	Author: "Ops <ops@example.com>", Message: "web: bump to 1.5 & <fix> @everyone\n\nlong body",
	Reason: `service "web": health check failed`, Time: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC),
	URL: "https://status.example.com/stacks/shop",
}

// receiver is an httptest server that records requests and answers with
// the given statuses in turn (the last one repeats).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   [][]byte
	headers  []http.Header
	statuses []int
	calls    atomic.Int64
	block    chan struct{} // when set, requests wait on it
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := int(r.calls.Add(1))
		if r.block != nil {
			select {
			case <-r.block:
			case <-req.Context().Done():
				return
			}
		}
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.headers = append(r.headers, req.Header.Clone())
		r.mu.Unlock()
		status := 200
		if len(r.statuses) > 0 {
			status = r.statuses[min(n, len(r.statuses))-1]
		}
		if status == 429 {
			w.Header().Set("Retry-After", "0.01")
		}
		w.WriteHeader(status)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(func() {
		if r.block != nil {
			select {
			case <-r.block:
			default:
				close(r.block)
			}
		}
		r.Close()
	})
	return r
}

func (r *receiver) url() string { return r.URL + "/services/" + token }

func (r *receiver) received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...)
}

func newNotifier(t *testing.T, o Options) (*Notifier, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.Backoff == 0 {
		o.Backoff = time.Millisecond
	}
	n := New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Close(ctx)
		if strings.Contains(logs.String(), token) {
			t.Errorf("logs leak a sink URL:\n%s", logs)
		}
	})
	return n, logs
}

// logBuf is a log sink the test reads while workers write.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func closeNow(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func must(s Sink, err error) Sink {
	if err != nil {
		panic(err)
	}
	return s
}

func TestSlackPayload(t *testing.T) {
	r := newReceiver(t)
	n, _ := newNotifier(t, Options{Sinks: []Sink{must(Slack(r.url(), nil))}})
	n.Notify(event)
	closeNow(t, n)
	var got map[string]any
	if err := json.Unmarshal(r.received()[0], &got); err != nil {
		t.Fatal(err)
	}
	text, _ := got["text"].(string)
	for _, want := range []string{"*❌ shop deploy failed on vps-1*", "commit 0123456789ab", "bump to 1.5 &amp; &lt;fix&gt;",
		"by Ops &lt;ops@example.com&gt;", `service "web": health check failed`, "<https://status.example.com/stacks/shop|status>"} {
		if !strings.Contains(text, want) {
			t.Errorf("slack text lacks %q:\n%s", want, text)
		}
	}
	if len(got) != 1 || strings.Contains(text, "long body") {
		t.Errorf("slack payload: %v", got)
	}
	if ct := r.headers[0].Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
}

func TestDiscordPayload(t *testing.T) {
	r := newReceiver(t, 204)
	n, _ := newNotifier(t, Options{Sinks: []Sink{must(Discord(r.url(), nil))}})
	long := event
	long.Reason = strings.Repeat("x", 5000)
	n.Notify(long)
	closeNow(t, n)
	var got struct {
		Content         string `json:"content"`
		AllowedMentions struct {
			Parse []string `json:"parse"`
		} `json:"allowed_mentions"`
	}
	if err := json.Unmarshal(r.received()[0], &got); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Content, "**❌ shop deploy failed on vps-1**\ncommit 0123456789ab") || len([]rune(got.Content)) > 2000 {
		t.Errorf("content: %q", got.Content)
	}
	if got.AllowedMentions.Parse == nil || len(got.AllowedMentions.Parse) != 0 {
		t.Errorf("mentions are not off: %s", r.received()[0])
	}
}

func TestTeamsPayload(t *testing.T) {
	r := newReceiver(t, 202) // Workflows answers 202
	n, _ := newNotifier(t, Options{Sinks: []Sink{must(Teams(r.url(), nil))}})
	n.Notify(event)
	closeNow(t, n)
	var got struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string  `json:"contentType"`
			ContentURL  *string `json:"contentUrl"`
			Content     struct {
				Type    string           `json:"type"`
				Version string           `json:"version"`
				Body    []map[string]any `json:"body"`
				Actions []map[string]any `json:"actions"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(r.received()[0], &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "message" || len(got.Attachments) != 1 {
		t.Fatalf("envelope: %s", r.received()[0])
	}
	a := got.Attachments[0]
	if a.ContentType != "application/vnd.microsoft.card.adaptive" || a.Content.Type != "AdaptiveCard" || a.Content.Version == "" {
		t.Fatalf("card: %s", r.received()[0])
	}
	if a.Content.Body[0]["text"] != "❌ shop deploy failed on vps-1" || a.Content.Body[1]["type"] != "FactSet" {
		t.Errorf("body: %v", a.Content.Body)
	}
	if len(a.Content.Actions) != 1 || a.Content.Actions[0]["url"] != event.URL || a.Content.Actions[0]["type"] != "Action.OpenUrl" {
		t.Errorf("actions: %v", a.Content.Actions)
	}
}

func TestWebhookPayloadSigned(t *testing.T) {
	r := newReceiver(t, 500, 200)
	secret := []byte("hook-secret")
	n, _ := newNotifier(t, Options{Sinks: []Sink{must(Webhook(r.url(), secret, nil))}})
	n.Notify(event)
	closeNow(t, n)
	bodies := r.received()
	if len(bodies) != 2 {
		t.Fatalf("%d requests, want 2 (one retry)", len(bodies))
	}
	var got Event
	if err := json.Unmarshal(bodies[1], &got); err != nil {
		t.Fatal(err)
	}
	if got != event {
		t.Errorf("event = %+v\nwant %+v", got, event)
	}
	m := hmac.New(sha256.New, secret)
	m.Write(bodies[1])
	h := r.headers[1]
	if h.Get("X-Berth-Signature") != "sha256="+hex.EncodeToString(m.Sum(nil)) {
		t.Errorf("signature %q", h.Get("X-Berth-Signature"))
	}
	if h.Get("X-Berth-Event") != "deploy_failed" || h.Get("X-Berth-Delivery") == "" ||
		h.Get("X-Berth-Delivery") != r.headers[0].Get("X-Berth-Delivery") {
		t.Errorf("headers: %v / %v", r.headers[0], h)
	}
	if !strings.Contains(string(bodies[1]), `"kind":"deploy_failed"`) {
		t.Errorf("body: %s", bodies[1])
	}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		calls    int64
		failed   bool
	}{
		{"server errors then success", []int{500, 502, 200}, 3, false},
		{"rate limited", []int{429, 429, 200}, 3, false},
		{"gives up after 5 tries", []int{503}, 5, true},
		{"4xx not retried", []int{404}, 1, true},
		{"400 not retried", []int{400}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, tc.statuses...)
			n, logs := newNotifier(t, Options{Sinks: []Sink{must(Slack(r.url(), nil))}})
			n.Notify(event)
			closeNow(t, n)
			if got := r.calls.Load(); got != tc.calls {
				t.Errorf("%d calls, want %d", got, tc.calls)
			}
			if failed := strings.Contains(logs.String(), "notification failed"); failed != tc.failed {
				t.Errorf("failed logged = %v:\n%s", failed, logs)
			}
			if tc.failed && !strings.Contains(logs.String(), "sink=\"slack 127.0.0.1:") {
				t.Errorf("the failure does not name the sink by kind and host:\n%s", logs)
			}
		})
	}
}

func TestBackoffDoubles(t *testing.T) {
	var times []time.Time
	var mu sync.Mutex
	s := &funcSink{send: func(context.Context, Event) error {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		return &SendError{Sink: "test", Status: 503}
	}}
	n, _ := newNotifier(t, Options{Sinks: []Sink{s}, Backoff: 20 * time.Millisecond, Tries: 4})
	n.Notify(event)
	closeNow(t, n)
	if len(times) != 4 {
		t.Fatalf("%d tries", len(times))
	}
	for i, want := range []time.Duration{20, 40, 80} {
		if gap := times[i+1].Sub(times[i]); gap < want*time.Millisecond {
			t.Errorf("wait %d = %v, want at least %dms", i+1, gap, want)
		}
	}
}

type funcSink struct {
	name string
	send func(context.Context, Event) error
}

func (f *funcSink) Name() string {
	if f.name == "" {
		return "test"
	}
	return f.name
}
func (f *funcSink) Send(ctx context.Context, e Event) error { return f.send(ctx, e) }

func TestDuplicatesSuppressed(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var got []Kind
	s := &funcSink{send: func(_ context.Context, e Event) error {
		mu.Lock()
		got = append(got, e.Kind)
		mu.Unlock()
		return nil
	}}
	n, _ := newNotifier(t, Options{Sinks: []Sink{s}, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	n.Notify(event)
	n.Notify(event) // a retried deploy failing again
	other := event
	other.Kind = RolledBack
	n.Notify(other)
	next := event
	next.Commit = "fedcba"
	n.Notify(next)
	mu.Lock()
	now = now.Add(DefaultWindow)
	mu.Unlock()
	n.Notify(event)
	closeNow(t, n)
	if len(got) != 4 {
		t.Fatalf("sent %v, want 4 events", got)
	}
}

// A sink that never answers delays neither Notify nor the other sinks, and
// its full queue drops the oldest events with a warning.
func TestDeadSinkDoesNotBlock(t *testing.T) {
	dead := newReceiver(t)
	dead.block = make(chan struct{})
	good := newReceiver(t)
	n, logs := newNotifier(t, Options{
		Sinks:     []Sink{must(Discord(dead.url(), nil)), must(Slack(good.url(), nil))},
		QueueSize: 4, Timeout: time.Hour,
	})
	var inNotify time.Duration
	for i := range 20 {
		e := event
		e.Commit = strings.Repeat(string(rune('a'+i)), 40)
		start := time.Now()
		n.Notify(e)
		inNotify += time.Since(start)
		deadline := time.Now().Add(5 * time.Second)
		for len(good.received()) < i+1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := len(good.received()); got != i+1 {
			t.Fatalf("the good sink got %d of %d while the other hung", got, i+1)
		}
	}
	if inNotify > time.Second {
		t.Fatalf("20 Notify calls took %v", inNotify)
	}
	if !strings.Contains(logs.String(), "notification queue full: dropped the oldest event") ||
		!strings.Contains(logs.String(), "sink=\"discord 127.0.0.1:") {
		t.Errorf("no drop warning naming the sink:\n%s", logs)
	}
	// Close gives up at its deadline and cuts the hung send off.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := n.Close(ctx); err == nil {
		t.Error("Close with a hung sink returned nil")
	}
}

func TestCloseDrains(t *testing.T) {
	r := newReceiver(t)
	n, _ := newNotifier(t, Options{Sinks: []Sink{must(Webhook(r.url(), nil, nil))}})
	for i := range 10 {
		e := event
		e.Commit = strings.Repeat(string(rune('a'+i)), 40)
		n.Notify(e)
	}
	closeNow(t, n)
	if got := len(r.received()); got != 10 {
		t.Fatalf("%d of 10 delivered before Close returned", got)
	}
	n.Notify(event) // after Close: dropped, no panic
}

// Errors and logs name a sink by kind and host; the URL, which holds the
// token, never shows, not even in a connection error.
func TestSecretsNeverShown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	s := must(Slack("http://"+addr+"/services/"+token, nil))
	err = s.Send(context.Background(), event)
	if err == nil || strings.Contains(err.Error(), token) || !strings.HasPrefix(err.Error(), "slack "+addr+": ") {
		t.Fatalf("error = %v", err)
	}
	if s.Name() != "slack "+addr {
		t.Errorf("name %q", s.Name())
	}
	for _, bad := range []string{"hooks.slack.com/services/" + token, "ftp://x/" + token, "://" + token} {
		if _, err := Teams(bad, nil); err == nil || strings.Contains(err.Error(), token) {
			t.Errorf("Teams(%q) error = %v", bad, err)
		}
	}
	n, logs := newNotifier(t, Options{Sinks: []Sink{s}, Tries: 2})
	n.Notify(event)
	closeNow(t, n)
	// The grep is worth something only if the line that could carry the
	// URL was written: the failure, with the sink's name and its cause.
	out := logs.String()
	for _, want := range []string{"notification failed", `sink="slack ` + addr + `"`, "tries=2", "connection refused"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, token) {
		t.Fatalf("the log shows the sink URL's token:\n%s", out)
	}
}

func TestEventText(t *testing.T) {
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{Event{Kind: DeployStarted, Host: "h", Stack: "s", Commit: "abc", Message: "m"}, "🚀 s deploying on h: commit abc “m”"},
		{Event{Kind: DeploySucceeded, Host: "h", Stack: "s", Commit: "abc", Author: "a"}, "✅ s deployed on h: commit abc by a"},
		{Event{Kind: RolledBack, Host: "h", Stack: "s", Commit: "abc", Reason: "unhealthy\nmore"}, "↩️ s rolled back on h: commit abc: unhealthy"},
		{Event{Kind: Stalled, Host: "h", Stack: "s", Reason: "bad yaml"}, "⏸️ s stalled on h: bad yaml"},
		{Event{Kind: Recovered, Host: "h", Stack: "s"}, "💚 s recovered on h"},
	} {
		if got := tc.e.Text(); got != tc.want {
			t.Errorf("Text() = %q, want %q", got, tc.want)
		}
	}
}
