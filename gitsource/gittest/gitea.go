package gittest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// GiteaModule is the Gitea release the tests run, built from the Go module
// proxy: `go install` refuses it (its go.mod has replace directives) and
// 1.27 needs modules the proxy does not serve.
const GiteaModule = "code.gitea.io/gitea@v1.26.0"

// EnvRequireGitea, when set to 1, turns "Gitea cannot be built here" from
// a skip into a failure, for CI machines that must run the scenarios.
const EnvRequireGitea = "BERTH_REQUIRE_GITEA"

// Gitea is a real Gitea server on 127.0.0.1, with an admin user and an
// access token, in the test's temporary directory; it is stopped when the
// test ends.
type Gitea struct {
	// URL is http://127.0.0.1:PORT, without a trailing slash.
	URL string
	// User owns the repositories; Token is an access token with every scope.
	User, Password, Token string
	// Dir holds app.ini, the database, the repositories and gitea.log.
	Dir string

	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{}
}

// ToolsDir is where test tools are cached between runs: $BERTH_TOOLS, or
// /opt/berth-tools.
func ToolsDir() string {
	if d := os.Getenv("BERTH_TOOLS"); d != "" {
		return d
	}
	return "/opt/berth-tools"
}

var giteaBuild sync.Mutex

// GiteaBinary returns the cached Gitea binary, building it first when the
// cache has none. The build runs at low priority; it takes minutes cold.
// When it cannot be had for a reason outside the project (the proxy
// refusing a module, no C compiler) the test is skipped with the reason,
// or fails when BERTH_REQUIRE_GITEA=1.
func GiteaBinary(t testing.TB) string {
	t.Helper()
	giteaBuild.Lock()
	defer giteaBuild.Unlock()
	bin := filepath.Join(ToolsDir(), "gitea")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return bin
	}
	start := time.Now()
	if err := buildGitea(bin); err != nil {
		if os.Getenv(EnvRequireGitea) == "1" {
			t.Fatalf("gitea: %v", err)
		}
		t.Skipf("gitea: %v (set %s=1 to fail instead)", err, EnvRequireGitea)
	}
	t.Logf("gitea: built %s into %s in %v", GiteaModule, bin, time.Since(start).Round(time.Second))
	return bin
}

// buildGitea downloads the module and builds it exactly as the e2e setup
// does; the binary appears at bin only once complete.
func buildGitea(bin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return err
	}
	// Outside any module, so the project's go.mod and go.sum stay as they are.
	dl := exec.CommandContext(ctx, "go", "mod", "download", "-json", GiteaModule)
	dl.Dir = os.TempDir()
	dl.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=")
	var out, stderr bytes.Buffer
	dl.Stdout, dl.Stderr = &out, &stderr
	err := dl.Run()
	var mod struct{ Dir, Error string }
	_ = json.Unmarshal(out.Bytes(), &mod)
	if err != nil || mod.Dir == "" {
		return fmt.Errorf("go mod download %s failed: %s", GiteaModule, tail(mod.Error+"\n"+stderr.String(), 600))
	}
	tmp := fmt.Sprintf("%s.tmp-%d", bin, os.Getpid())
	defer os.Remove(tmp)
	args := []string{"go", "build", "-tags", "sqlite sqlite_unlock_notify", "-o", tmp, "."}
	if nice, err := exec.LookPath("nice"); err == nil {
		args = append([]string{nice, "-n", "19"}, args...)
	}
	b := exec.CommandContext(ctx, args[0], args[1:]...)
	b.Dir = mod.Dir
	b.Env = append(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=-buildvcs=false")
	stderr.Reset()
	b.Stdout, b.Stderr = io.Discard, &stderr
	if err := b.Run(); err != nil {
		return fmt.Errorf("go build %s: %v: %s", GiteaModule, err, tail(stderr.String(), 1200))
	}
	return os.Rename(tmp, bin)
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// StartGitea builds Gitea if needed and runs it on a free port with
// sqlite3, no SSH, offline, webhooks allowed to loopback, and the admin
// user "berth" with an access token.
func StartGitea(t testing.TB) *Gitea {
	t.Helper()
	bin := GiteaBinary(t)
	start := time.Now()
	g := &Gitea{t: t, Dir: t.TempDir(), User: "berth", Password: "berth-" + randomHex(8), done: make(chan struct{})}
	port := freePort(t)
	g.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	g.writeConfig(t, bin, port)
	g.run(t, bin, "migrate")
	g.run(t, bin, "admin", "user", "create", "--username", g.User, "--password", g.Password,
		"--email", "berth@example.com", "--admin", "--must-change-password=false")
	// The token is the last line: Gitea logs to stdout too.
	out := strings.Fields(g.run(t, bin, "admin", "user", "generate-access-token", "--username", g.User,
		"--token-name", "berth-test", "--scopes", "all", "--raw"))
	if len(out) > 0 {
		g.Token = out[len(out)-1]
	}
	if len(g.Token) < 20 {
		t.Fatalf("gitea: unexpected access token output %q", out)
	}
	g.startWeb(t, bin)
	t.Logf("gitea: %s up in %v", g.URL, time.Since(start).Round(time.Millisecond))
	return g
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeConfig writes app.ini. STATIC_ROOT_PATH is the module directory,
// which holds the templates and options the binary does not embed.
func (g *Gitea) writeConfig(t testing.TB, bin string, port int) {
	t.Helper()
	runUser, unsafe := "root", "true"
	if os.Geteuid() != 0 {
		unsafe = "false"
		if u, err := user.Current(); err == nil {
			runUser = u.Username
		}
	}
	modDir := goModDir(GiteaModule)
	ini := fmt.Sprintf(`APP_NAME = berth test
RUN_USER = %[1]s
RUN_MODE = prod
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = %[2]s
WORK_PATH = %[3]s

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[4]d
ROOT_URL = http://127.0.0.1:%[4]d/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
STATIC_ROOT_PATH = %[5]s
APP_DATA_PATH = %[3]s/data
LFS_START_SERVER = false

[database]
DB_TYPE = sqlite3
PATH = %[3]s/data/gitea.db
SQLITE_JOURNAL_MODE = WAL

[repository]
ROOT = %[3]s/repos
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = %[6]s
INTERNAL_TOKEN = %[7]s

[oauth2]
ENABLED = false

[webhook]
; without it, deliveries to 127.0.0.1 fail silently
ALLOWED_HOST_LIST = loopback
DELIVER_TIMEOUT = 5

[queue]
TYPE = channel

[log]
MODE = console
LEVEL = warn

[service]
DISABLE_REGISTRATION = true

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[cron]
ENABLED = false

[actions]
ENABLED = false

[indexer]
REPO_INDEXER_ENABLED = false

[mailer]
ENABLED = false
`, runUser, unsafe, g.Dir, port, modDir, randomHex(32), randomHex(32))
	if err := os.WriteFile(filepath.Join(g.Dir, "app.ini"), []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
}

// goModDir is where the module cache holds mod ("" when it does not).
func goModDir(mod string) string {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return ""
	}
	path, version, _ := strings.Cut(mod, "@")
	return filepath.Join(strings.TrimSpace(string(out)), path+"@"+version)
}

func (g *Gitea) command(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, append([]string{"--config", filepath.Join(g.Dir, "app.ini"), "--work-path", g.Dir}, args...)...)
	cmd.Dir = g.Dir
	cmd.Env = giteaEnv(g.Dir)
	return cmd
}

// giteaEnv is the caller's environment without any GIT_* or GITEA_*
// variable. Not Env: Gitea runs `git config --global` in its own git home,
// and with GIT_CONFIG_GLOBAL=/dev/null git's lock-and-rename would replace
// /dev/null with a regular file.
func giteaEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") || strings.HasPrefix(k, "GITEA_") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+dir, "GITEA_WORK_DIR="+dir)
}

// run runs a gitea subcommand to completion and returns its stdout.
func (g *Gitea) run(t testing.TB, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := g.command(ctx, bin, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gitea %s: %v\nstdout: %s\nstderr: %s", args[0], err, tail(out.String(), 1000), tail(stderr.String(), 2000))
	}
	return out.String()
}

// startWeb runs `gitea web` and waits until it answers.
func (g *Gitea) startWeb(t testing.TB, bin string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(g.Dir, "gitea.log"))
	if err != nil {
		t.Fatal(err)
	}
	g.cmd = g.command(context.Background(), bin, "web")
	g.cmd.Stdout, g.cmd.Stderr = logf, logf
	if err := g.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("gitea web: %v", err)
	}
	go func() { _ = g.cmd.Wait(); logf.Close(); close(g.done) }()
	t.Cleanup(g.stop)
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(g.URL + "/api/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-g.done:
			t.Fatalf("gitea web exited:\n%s", g.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("gitea web did not answer on %s within a minute:\n%s", g.URL, g.Log())
		}
	}
}

// stop asks Gitea to stop, then kills it.
func (g *Gitea) stop() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// Log is the end of Gitea's log.
func (g *Gitea) Log() string {
	b, _ := os.ReadFile(filepath.Join(g.Dir, "gitea.log"))
	return tail(string(b), 4000)
}

// API calls the REST API with the token; body is JSON-encoded when not nil
// and out decoded when not nil. It returns the status code and fails the
// test on a transport error.
func (g *Gitea) API(method, path string, body, out any) int {
	g.t.Helper()
	var rd io.Reader
	if body != nil {
		js, err := json.Marshal(body)
		if err != nil {
			g.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, g.URL+"/api/v1"+path, rd)
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+g.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatalf("gitea %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			g.t.Fatalf("gitea %s %s: %v: %s", method, path, err, tail(string(data), 500))
		}
	}
	if resp.StatusCode/100 != 2 {
		g.t.Logf("gitea %s %s: %s: %s", method, path, resp.Status, tail(string(data), 500))
	}
	return resp.StatusCode
}

// mustAPI is API that fails the test on a status other than want.
func (g *Gitea) mustAPI(want int, method, path string, body, out any) {
	g.t.Helper()
	if got := g.API(method, path, body, out); got != want {
		g.t.Fatalf("gitea %s %s: status %d, want %d", method, path, got, want)
	}
}

// CreateRepo makes an empty public repository of User, with main as its
// default branch, and returns its clone URL (without credentials).
func (g *Gitea) CreateRepo(name string) string {
	g.t.Helper()
	g.mustAPI(http.StatusCreated, "POST", "/user/repos",
		map[string]any{"name": name, "default_branch": "main", "private": false, "auto_init": false}, nil)
	return g.RepoURL(name)
}

// RepoURL is the repository's HTTP clone URL, without credentials.
func (g *Gitea) RepoURL(repo string) string { return g.URL + "/" + g.User + "/" + repo + ".git" }

func (g *Gitea) authURL(repo string) string {
	u, _ := url.Parse(g.RepoURL(repo))
	u.User = url.UserPassword(g.User, g.Token)
	return u.String()
}

// AddWebhook registers a Gitea-type webhook that sends push events as
// JSON to hookURL, signed with secret.
func (g *Gitea) AddWebhook(repo, hookURL, secret string) {
	g.t.Helper()
	g.mustAPI(http.StatusCreated, "POST", "/repos/"+g.User+"/"+repo+"/hooks", map[string]any{
		"type":          "gitea",
		"config":        map[string]string{"url": hookURL, "content_type": "json", "secret": secret},
		"events":        []string{"push"},
		"branch_filter": "*",
		"active":        true,
	}, nil)
}

// PushFiles commits files (path → content; "" deletes the path) on branch,
// on top of the branch's head when it exists (else of main's, else as the
// first commit), and pushes it over HTTP with the token. It returns the new
// commit's hash.
func (g *Gitea) PushFiles(repo, branch, message string, files map[string]string) string {
	g.t.Helper()
	dir := filepath.Join(g.t.TempDir(), "work")
	Git(g.t, "", "clone", "-q", g.authURL(repo), dir)
	w := &Work{t: g.t, Dir: dir}
	switch {
	case w.Run("ls-remote", "--heads", "origin", branch) != "":
		w.Run("checkout", "-q", "-B", branch, "origin/"+branch)
	case w.Run("ls-remote", "--heads", "origin", "main") != "":
		w.Run("checkout", "-q", "-B", branch, "origin/main")
	default:
		w.Run("symbolic-ref", "HEAD", "refs/heads/"+branch)
	}
	for p, content := range files {
		if content == "" {
			w.Remove(p)
		} else {
			w.Write(p, content)
		}
	}
	hash := w.Commit(message)
	w.Run("push", "-q", "origin", "HEAD:refs/heads/"+branch)
	return hash
}

// OpenPR opens a pull request from head into base and returns its number.
func (g *Gitea) OpenPR(repo, head, base, title string) int {
	g.t.Helper()
	var pr struct{ Number int }
	g.mustAPI(http.StatusCreated, "POST", "/repos/"+g.User+"/"+repo+"/pulls",
		map[string]string{"head": head, "base": base, "title": title}, &pr)
	return pr.Number
}

// MergePR merges a pull request with a merge commit and returns that
// commit's hash. Gitea answers 405 while it still computes whether the
// request can be merged, so 405s are retried for up to a minute.
func (g *Gitea) MergePR(repo string, number int) string {
	g.t.Helper()
	path := fmt.Sprintf("/repos/%s/%s/pulls/%d", g.User, repo, number)
	deadline := time.Now().Add(time.Minute)
	for {
		code := g.API("POST", path+"/merge", map[string]any{"Do": "merge"}, nil)
		if code == http.StatusOK {
			break
		}
		if code != http.StatusMethodNotAllowed || time.Now().After(deadline) {
			g.t.Fatalf("gitea: merging pull request %d: status %d", number, code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var pr struct {
		Merged         bool   `json:"merged"`
		MergeCommitSHA string `json:"merge_commit_sha"`
	}
	g.mustAPI(http.StatusOK, "GET", path, nil, &pr)
	if !pr.Merged || pr.MergeCommitSHA == "" {
		g.t.Fatalf("gitea: pull request %d not merged: %+v", number, pr)
	}
	return pr.MergeCommitSHA
}

// CommitStatuses returns the latest state of each status context on a
// commit (context → "pending", "success", "failure", "error" or "warning").
func (g *Gitea) CommitStatuses(repo, sha string) map[string]string {
	g.t.Helper()
	var combined struct {
		Statuses []struct {
			Context string `json:"context"`
			Status  string `json:"status"`
		} `json:"statuses"`
	}
	g.mustAPI(http.StatusOK, "GET", "/repos/"+g.User+"/"+repo+"/commits/"+sha+"/status", nil, &combined)
	states := map[string]string{}
	for _, s := range combined.Statuses {
		states[s.Context] = s.Status
	}
	return states
}
