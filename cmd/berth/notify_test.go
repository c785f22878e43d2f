package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller/config"
	"github.com/berth-gitops/berth/controller/notify"
)

// hookServer records the bodies and headers POSTed to it.
type hookServer struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.headers = append(h.headers, r.Header.Clone())
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// Two sinks from berth.yaml, each a real HTTP endpoint: the deploy news go
// to the signed generic webhook, an OOM kill to the Slack-compatible one,
// and a repeat of the OOM kill inside the window is sent once.
func TestNotifySinksRouteEvents(t *testing.T) {
	const token = "T0KEN-route-canary"
	dir := t.TempDir()
	hooks, chat := newHookServer(t), newHookServer(t)
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("chat-url", chat.URL+"/services/"+token+"\n")
	write("hook-secret", "hook-secret\n")
	write("berth.yaml", `
repo: https://git.example.com/infra.git
notify:
  window: 1h
  sinks:
    - name: deploys
      webhook_url: `+hooks.URL+`/berth
      webhook_secret_file: hook-secret
      kinds: [deploy_started, deploy_succeeded, deploy_failed, rolled_back]
    - name: ops
      slack_url_file: chat-url
      kinds: [oom_killed, restart_loop]
      stacks: ["shop*"]
      exclude_stacks: ["*-staging"]
      severity: warning
`)
	cfg, err := config.Load(filepath.Join(dir, "berth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sec, err := cfg.ReadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	g := &globals{logger: slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	n, err := newNotifier(cfg, sec, g)
	if err != nil {
		t.Fatal(err)
	}
	commit := "0123456789abcdef0123456789abcdef01234567"
	oom := notify.Event{Kind: notify.OOMKilled, Host: "vps-1", Stack: "shop", Subject: "web", Reason: "killed out of memory"}
	for _, e := range []notify.Event{
		{Kind: notify.DeployStarted, Host: "vps-1", Stack: "shop", Commit: commit},
		oom,
		{Kind: notify.DeploySucceeded, Host: "vps-1", Stack: "shop", Commit: commit},
		oom, // inside the window
		{Kind: notify.OOMKilled, Host: "vps-1", Stack: "shop-staging", Subject: "web"}, // excluded
		{Kind: notify.OOMKilled, Host: "vps-1", Stack: "blog", Subject: "web"},         // not included
		{Kind: notify.Stalled, Host: "vps-1", Stack: "shop", Commit: commit},           // neither sink's kind
	} {
		n.Notify(e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}

	var kinds []string
	for i, b := range hooks.bodies {
		var e notify.Event
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, string(e.Kind))
		m := hmac.New(sha256.New, []byte("hook-secret"))
		m.Write(b)
		if got := hooks.headers[i].Get("X-Berth-Signature"); got != "sha256="+hex.EncodeToString(m.Sum(nil)) {
			t.Errorf("webhook body %d signature %q", i, got)
		}
	}
	if strings.Join(kinds, " ") != "deploy_started deploy_succeeded" {
		t.Errorf("the generic webhook got %q, want the deploy news only", kinds)
	}
	if len(chat.bodies) != 1 {
		t.Fatalf("the Slack endpoint got %d messages, want the one OOM kill:\n%s", len(chat.bodies), bytes.Join(chat.bodies, []byte("\n")))
	}
	var slack struct{ Text string }
	if err := json.Unmarshal(chat.bodies[0], &slack); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(slack.Text, "shop/web was killed for lack of memory on vps-1") || !strings.Contains(slack.Text, "web: killed out of memory") {
		t.Errorf("slack text: %q", slack.Text)
	}
	out := logs.String()
	if !strings.Contains(out, `msg="notification suppressed: sent already within the duplicate window" sink="ops (slack 127.0.0.1:`) {
		t.Errorf("the log does not show the dropped repeat:\n%s", out)
	}
	if strings.Contains(out, token) {
		t.Errorf("the log shows the Slack URL's token:\n%s", out)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
