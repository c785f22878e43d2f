package gittest_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller/commitstatus"
	"github.com/berth-gitops/berth/controller/webhook"
	"github.com/berth-gitops/berth/gitsource/gittest"
)

// A real Gitea signs its push webhooks the way berth's handler checks them,
// and takes berth's commit statuses: a repo is created, berth's webhook
// registered, a push and a merged pull request each reach the handler as a
// signed push to main (a push to another branch triggers nothing), and a
// success status on the merge commit reads back as success.
func TestGitea(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Gitea server")
	}
	g := gittest.StartGitea(t)
	const secret = "gitea-hook-secret"
	g.CreateRepo("infra")

	triggers := make(chan string, 16)
	logs := &lockedBuilder{}
	h := webhook.New(webhook.Config{
		GiteaSecret: []byte(secret), Branch: "main",
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}, func(reason string) { triggers <- reason })
	srv := httptest.NewServer(h)
	defer srv.Close()
	g.AddWebhook("infra", srv.URL+"/hooks/gitea", secret)

	g.PushFiles("infra", "main", "stacks/web: first", map[string]string{
		"stacks/web/compose.yaml": "services:\n  web:\n    image: example/web:1.4\n",
	})
	pushed := time.Now()
	reason := waitTrigger(t, triggers, g)
	t.Logf("push done → webhook trigger: %v", time.Since(pushed).Round(time.Millisecond))
	if !strings.HasPrefix(reason, "gitea webhook: push to refs/heads/main (delivery ") {
		t.Fatalf("trigger reason %q", reason)
	}

	g.PushFiles("infra", "bump", "stacks/web: 1.5", map[string]string{
		"stacks/web/compose.yaml": "services:\n  web:\n    image: example/web:1.5\n",
	})
	pr := g.OpenPR("infra", "bump", "main", "web 1.5")
	merging := time.Now()
	merge := g.MergePR("infra", pr)
	merged := time.Now()
	reason = waitTrigger(t, triggers, g)
	t.Logf("merge call %v, merged → webhook trigger: %v", merged.Sub(merging).Round(time.Millisecond),
		time.Since(merged).Round(time.Millisecond))
	if !strings.Contains(reason, "refs/heads/main") {
		t.Fatalf("trigger after the merge: %q (the push to bump must not trigger)", reason)
	}
	if !strings.Contains(logs.String(), "ignored: push to refs/heads/bump, not the followed ref") {
		t.Errorf("the push to bump was not seen and ignored:\n%s", logs.String())
	}

	owner, repo, err := commitstatus.OwnerRepo(g.RepoURL("infra"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := commitstatus.New(commitstatus.Options{Provider: commitstatus.Gitea, BaseURL: g.URL, Token: g.Token, Owner: owner, Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, st := range []commitstatus.State{commitstatus.Pending, commitstatus.Success} {
		if err := c.Post(ctx, commitstatus.Status{Commit: merge, State: st, Context: commitstatus.Context("vps-1", "web"),
			Description: "deployed on vps-1", TargetURL: "https://status.example.com/"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := g.CommitStatuses("infra", merge); got["berth/vps-1/web"] != "success" {
		t.Fatalf("statuses of the merge commit: %v", got)
	}
	bad, _ := commitstatus.New(commitstatus.Options{Provider: commitstatus.Gitea, BaseURL: g.URL, Token: "wrong", Owner: owner, Repo: repo})
	if err := bad.Post(ctx, commitstatus.Status{Commit: merge, State: commitstatus.Failure}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a wrong token: %v", err)
	}
	// Gitea runs `git config --global`; given GIT_CONFIG_GLOBAL=/dev/null,
	// git would replace the device with a file.
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a device: %v %v", os.DevNull, fi.Mode(), err)
	}
}

func waitTrigger(t *testing.T, triggers chan string, g *gittest.Gitea) string {
	t.Helper()
	select {
	case r := <-triggers:
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("no webhook reached the handler within 30s; gitea log:\n%s", g.Log())
		return ""
	}
}

// lockedBuilder collects log lines written by handler goroutines.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
