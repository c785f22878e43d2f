package commitstatus

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller/notify"
)

const (
	token = "tok-canary-5e6f"
	sha   = "0123456789abcdef0123456789abcdef01234567"
)

// request is what a fake API saw.
type request struct {
	method, path, rawPath string
	header                http.Header
	body                  map[string]string
}

func fakeAPI(t *testing.T, status int, answer string) (*httptest.Server, *[]request) {
	t.Helper()
	var mu sync.Mutex
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]string
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("body is not a JSON object of strings: %s", b)
		}
		mu.Lock()
		got = append(got, request{r.Method, r.URL.Path, r.URL.RawPath, r.Header.Clone(), body})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestProviders(t *testing.T) {
	long := strings.Repeat("é", 200)
	for _, tc := range []struct {
		name, provider, owner, base string
		wantPath, wantRawPath       string
		authHeader, authValue       string
		stateKey, contextKey        string
		failure                     string
	}{
		{name: "github", provider: GitHub, owner: "infra",
			wantPath: "/repos/infra/deploy/statuses/" + sha, authHeader: "Authorization", authValue: "Bearer " + token,
			contextKey: "context", failure: "failure"},
		{name: "github enterprise", provider: GitHub, owner: "infra", base: "/api/v3",
			wantPath: "/api/v3/repos/infra/deploy/statuses/" + sha, authHeader: "Authorization", authValue: "Bearer " + token,
			contextKey: "context", failure: "failure"},
		{name: "gitlab subgroup", provider: GitLab, owner: "group/sub",
			wantPath: "/api/v4/projects/group/sub/deploy/statuses/" + sha, wantRawPath: "/api/v4/projects/group%2Fsub%2Fdeploy/statuses/" + sha,
			authHeader: "PRIVATE-TOKEN", authValue: token, contextKey: "name", failure: "failed"},
		{name: "gitlab base with api suffix", provider: GitLab, owner: "infra", base: "/gitlab/api/v4",
			wantPath: "/gitlab/api/v4/projects/infra/deploy/statuses/" + sha, wantRawPath: "/gitlab/api/v4/projects/infra%2Fdeploy/statuses/" + sha,
			authHeader: "PRIVATE-TOKEN", authValue: token, contextKey: "name", failure: "failed"},
		{name: "gitea", provider: Gitea, owner: "infra",
			wantPath: "/api/v1/repos/infra/deploy/statuses/" + sha, authHeader: "Authorization", authValue: "token " + token,
			contextKey: "context", failure: "failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := fakeAPI(t, 201, `{"id":1}`)
			c, err := New(Options{Provider: tc.provider, BaseURL: srv.URL + tc.base, Token: token, Owner: tc.owner, Repo: "deploy", HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range []Status{
				{Commit: sha, State: Pending, Context: "berth/vps-1/shop", Description: "deploying on vps-1"},
				{Commit: sha, State: Failure, Context: "berth/vps-1/shop", Description: long, TargetURL: "https://status.example.com/"},
			} {
				if err := c.Post(context.Background(), st); err != nil {
					t.Fatal(err)
				}
			}
			if len(*got) != 2 {
				t.Fatalf("%d requests", len(*got))
			}
			for i, r := range *got {
				if r.method != "POST" || r.path != tc.wantPath || r.rawPath != tc.wantRawPath {
					t.Errorf("request %d: %s %s (raw %q), want POST %s (raw %q)", i, r.method, r.path, r.rawPath, tc.wantPath, tc.wantRawPath)
				}
				if r.header.Get(tc.authHeader) != tc.authValue || r.header.Get("Content-Type") != "application/json" {
					t.Errorf("request %d headers: %v", i, r.header)
				}
				if r.body[tc.contextKey] != "berth/vps-1/shop" {
					t.Errorf("request %d: context under %q missing: %v", i, tc.contextKey, r.body)
				}
			}
			first, second := (*got)[0].body, (*got)[1].body
			if first["state"] != "pending" || first["description"] != "deploying on vps-1" {
				t.Errorf("pending body: %v", first)
			}
			if _, ok := first["target_url"]; ok {
				t.Errorf("empty target_url sent: %v", first)
			}
			if second["state"] != tc.failure || second["target_url"] != "https://status.example.com/" {
				t.Errorf("failure body: %v", second)
			}
			if d := []rune(second["description"]); len(d) != MaxDescription || d[len(d)-1] != '…' {
				t.Errorf("description of %d runes: %q", len(d), second["description"])
			}
		})
	}
}

func TestErrors(t *testing.T) {
	srv, _ := fakeAPI(t, 401, `{"message":"Bad credentials `+token+`"}`)
	c, err := New(Options{Provider: GitHub, BaseURL: srv.URL, Token: token, Owner: "o", Repo: "r"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Post(context.Background(), Status{Commit: sha, State: Success, Context: "x"})
	var e *Error
	if !errors.As(err, &e) || e.Status != 401 || e.Retryable() {
		t.Fatalf("error = %#v", err)
	}
	if msg := err.Error(); strings.Contains(msg, token) || !strings.Contains(msg, "github") || !strings.Contains(msg, "401") {
		t.Fatalf("error text: %s", msg)
	}

	srv5, _ := fakeAPI(t, 503, `oops`)
	c5, _ := New(Options{Provider: Gitea, BaseURL: srv5.URL, Token: token, Owner: "o", Repo: "r"})
	err = c5.Post(context.Background(), Status{Commit: sha, State: Success})
	if !errors.As(err, &e) || e.Status != 503 || !e.Retryable() || !strings.HasPrefix(err.Error(), "commit status (gitea) of 0123456789ab: HTTP 503") {
		t.Fatalf("503: %v", err)
	}

	down := httptest.NewServer(nil)
	down.Close()
	cd, _ := New(Options{Provider: GitLab, BaseURL: down.URL, Token: token, Owner: "o", Repo: "r"})
	err = cd.Post(context.Background(), Status{Commit: sha, State: Success})
	if !errors.As(err, &e) || e.Status != 0 || !e.Retryable() || strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "statuses/") {
		t.Fatalf("connection refused: %v", err)
	}

	for _, st := range []Status{{Commit: "abc", State: Success}, {Commit: sha, State: "error"}} {
		if err := c.Post(context.Background(), st); err == nil {
			t.Errorf("Post(%+v) = nil", st)
		}
	}
}

// GitLab answers 400 to a state the commit already has; that is not an error.
func TestGitLabSameStateTwice(t *testing.T) {
	srv, _ := fakeAPI(t, 400, `{"message":"Cannot transition status via :run from :running"}`)
	c, _ := New(Options{Provider: GitLab, BaseURL: srv.URL, Token: token, Owner: "o", Repo: "r"})
	if err := c.Post(context.Background(), Status{Commit: sha, State: Pending}); err != nil {
		t.Fatal(err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Provider: "bitbucket", Token: token, Owner: "o", Repo: "r"}, `provider "bitbucket" is not github, gitlab or gitea`},
		{Options{Provider: Gitea, Token: token, Owner: "o", Repo: "r"}, "gitea needs the instance's URL"},
		{Options{Provider: GitHub, Owner: "o", Repo: "r"}, "github needs a token"},
		{Options{Provider: GitHub, Token: token, Repo: "r"}, "needs the owner and the repo"},
		{Options{Provider: GitHub, Token: token, Owner: "a/b", Repo: "r"}, `owner "a/b" holds a slash`},
		{Options{Provider: Gitea, BaseURL: "https://u:" + token + "@git.example.com", Token: token, Owner: "o", Repo: "r"}, "without credentials"},
		{Options{Provider: Gitea, BaseURL: "git.example.com", Token: token, Owner: "o", Repo: "r"}, "is not an http(s) URL"},
	} {
		_, err := New(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), token) {
			t.Errorf("New(%s) error = %v, want %q", tc.o.Provider, err, tc.want)
		}
	}
	c, err := New(Options{Provider: GitHub, Token: token, Owner: "o", Repo: "r"})
	if err != nil || c.base.String() != "https://api.github.com" {
		t.Fatalf("github default base: %v %v", c, err)
	}
	c, err = New(Options{Provider: GitLab, Token: token, Owner: "g/s", Repo: "r"})
	if err != nil || c.base.String() != "https://gitlab.com" {
		t.Fatalf("gitlab default base: %v %v", c, err)
	}
}

func TestOwnerRepo(t *testing.T) {
	for _, tc := range []struct{ url, owner, repo string }{
		{"https://github.com/infra/deploy.git", "infra", "deploy"},
		{"https://github.com/infra/deploy", "infra", "deploy"},
		{"https://github.com/infra/deploy/", "infra", "deploy"},
		{"https://bot:" + token + "@git.example.com:8443/infra/deploy.git", "infra", "deploy"},
		{"http://127.0.0.1:3000/berth/infra.git", "berth", "infra"},
		{"ssh://git@git.example.com:2222/infra/deploy.git", "infra", "deploy"},
		{"git@github.com:infra/deploy.git", "infra", "deploy"},
		{"git@gitlab.com:group/sub/deploy.git", "group/sub", "deploy"},
		{"https://gitlab.com/group/sub/sub2/deploy.git", "group/sub/sub2", "deploy"},
		{"gitea.example.com:infra/deploy", "infra", "deploy"},
	} {
		owner, repo, err := OwnerRepo(tc.url)
		if err != nil || owner != tc.owner || repo != tc.repo {
			t.Errorf("OwnerRepo(%q) = %q, %q, %v; want %q, %q", tc.url, owner, repo, err, tc.owner, tc.repo)
		}
	}
	for _, bad := range []string{"file:///srv/git/infra.git", "/srv/git/infra.git", "./infra", "https://github.com/deploy.git",
		"https://github.com/", "https://x:" + token + "@github.com/only", "git@github.com:deploy.git"} {
		_, _, err := OwnerRepo(bad)
		if err == nil || strings.Contains(err.Error(), token) {
			t.Errorf("OwnerRepo(%q) error = %v", bad, err)
		}
	}
}

// Through notify, events become statuses in order, with the context and
// description the Sink documents.
func TestSinkThroughNotifier(t *testing.T) {
	srv, got := fakeAPI(t, 201, `{}`)
	c, err := New(Options{Provider: Gitea, BaseURL: srv.URL, Token: token, Owner: "o", Repo: "r"})
	if err != nil {
		t.Fatal(err)
	}
	n := notify.New(notify.Options{Sinks: []notify.Sink{c.Sink()}, Backoff: time.Millisecond})
	base := notify.Event{Host: "vps-1", Stack: "shop", Commit: sha, URL: "https://status.example.com/"}
	for _, k := range []notify.Kind{notify.DeployStarted, notify.RolledBack, notify.Recovered} {
		e := base
		e.Kind = k
		e.Reason = `service "web" unhealthy`
		n.Notify(e)
	}
	n.Notify(notify.Event{Kind: notify.DeploySucceeded, Host: "vps-1", Stack: "shop"}) // no commit
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 2 {
		t.Fatalf("%d statuses posted, want 2: %+v", len(*got), *got)
	}
	p, f := (*got)[0].body, (*got)[1].body
	if p["state"] != "pending" || p["context"] != "berth/vps-1/shop" || p["description"] != "deploying on vps-1" {
		t.Errorf("pending: %v", p)
	}
	if f["state"] != "failure" || f["description"] != `rolled back on vps-1: service "web" unhealthy` || f["target_url"] != "https://status.example.com/" {
		t.Errorf("failure: %v", f)
	}
	if name := c.Sink().Name(); !strings.HasPrefix(name, "commit status gitea 127.0.0.1:") {
		t.Errorf("sink name %q", name)
	}
}
