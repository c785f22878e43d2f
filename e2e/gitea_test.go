package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/commitstatus"
	"github.com/berth-gitops/berth/e2e/testenv"
	"github.com/berth-gitops/berth/gitsource/gittest"
)

// TestGiteaPullRequests is the deploy interface end to end against a real
// Git host: pull requests merged through Gitea's API deploy through its
// signed push webhook, and berth's commit status on each merge commit says
// how the deploy went on this host.
func TestGiteaPullRequests(t *testing.T) {
	g := gittest.StartGitea(t)
	cli := testenv.Engine(t)
	testenv.BuildImages(t, cli, "berthtest/app:1.0", "berthtest/app:1.1")
	stack := testenv.UniqueProject(t)
	testenv.Cleanup(t, cli, stack)
	shop := &stack_{cli: cli, project: stack}
	repo := "infra"
	g.CreateRepo(repo)
	path := "stacks/" + stack + "/compose.yaml"
	first := g.PushFiles(repo, "main", "shop 1.0", map[string]string{path: gatedCompose})

	dir := t.TempDir()
	secretFile := func(name, value string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	const hookSecret = "gitea-hook-secret-canary"
	addr := freeAddr(t)
	dataDir := filepath.Join(dir, "data")
	run := startBerthArgs(t, dataDir, []string{"run", "--repo", g.RepoURL(repo),
		"--git-username", g.User, "--git-token-file", secretFile("token", g.Token),
		"--gitea-webhook-secret-file", secretFile("hook", hookSecret),
		"--commit-status-provider", "gitea", "--commit-status-url", g.URL, "--commit-status-token-file", secretFile("status-token", g.Token),
		"--data-dir", dataDir, "--listen", addr, "--poll", "10m", "--host", "host-a", "--log-format", "json", "--settle", "500ms"})
	g.AddWebhook(repo, "http://"+addr+"/hooks/gitea", hookSecret)
	run.waitApplied(stack, first, 90*time.Second)
	context_ := commitstatus.Context("host-a", stack)
	waitStatus := func(sha, want string) {
		t.Helper()
		run.waitFor("commit status "+want+" on "+sha[:12], 30*time.Second, func() bool { return g.CommitStatuses(repo, sha)[context_] == want })
	}
	waitStatus(first, "success")

	t.Log("a pull request changing web's tag, merged: deployed through the webhook, status success")
	g.PushFiles(repo, "web-1.1", "web 1.1", map[string]string{path: strings.Replace(gatedCompose, "web:\n    image: berthtest/app:1.0", "web:\n    image: berthtest/app:1.1", 1)})
	pr := g.OpenPR(repo, "web-1.1", "main", "web 1.1")
	merged := time.Now()
	merge := g.MergePR(repo, pr)
	mergeReturned := time.Now()
	run.waitApplied(stack, merge, 30*time.Second) // the poll is 10 minutes: only the webhook can do this
	waitStatus(merge, "success")
	web := shop.inspect(t, shop.project+"-web-1")
	started, _ := time.Parse(time.RFC3339Nano, web.Container.State.StartedAt)
	t.Logf("merge API call %.0f ms; merge returned → new web container started: %.0f ms",
		mergeReturned.Sub(merged).Seconds()*1000, started.Sub(mergeReturned).Seconds()*1000)
	if lat, ok := webhookToDeploy(run.logs(), stack); ok {
		t.Logf("webhook received → stack deploying (after fetch and observe): %.0f ms", lat.Seconds()*1000)
	}

	t.Log("a pull request with a version that fails its health gate: rolled back, status failure")
	g.PushFiles(repo, "web-bad", "web 1.1 unhealthy", map[string]string{path: badWeb(gatedCompose)})
	bad := g.MergePR(repo, g.OpenPR(repo, "web-bad", "main", "web 1.1 unhealthy"))
	run.waitFor("rolled back", 60*time.Second, func() bool {
		s := run.stackState(stack)
		return s.State == controller.StateRolledBack && s.Failed == bad && s.Applied == merge
	})
	waitStatus(bad, "failure")
	if strings.Contains(run.logs(), hookSecret) || strings.Contains(run.logs(), g.Token) {
		t.Fatal("a secret reached the log")
	}
}

// stack_ is the engine side of a stack, for inspecting its containers.
type stack_ struct {
	cli     *client.Client
	project string
}

func (s *stack_) inspect(t *testing.T, name string) client.ContainerInspectResult {
	t.Helper()
	res, err := s.cli.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// webhookToDeploy reads the JSON log: the time from the last webhook that
// was accepted to the stack's next "deploying" line.
func webhookToDeploy(log, stack string) (time.Duration, bool) {
	var hook time.Time
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var best time.Duration
	found := false
	for sc.Scan() {
		var l struct {
			Time   time.Time `json:"time"`
			Msg    string    `json:"msg"`
			Stack  string    `json:"stack"`
			Status int       `json:"status"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch {
		case l.Msg == "webhook" && l.Status == 202:
			hook = l.Time
		case l.Msg == "deploying" && l.Stack == stack && !hook.IsZero():
			best, found = l.Time.Sub(hook), true
			hook = time.Time{}
		}
	}
	return best, found
}
