package e2e

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/e2e/testenv"
)

// The canaries, one per way a value reaches berth. Each is distinct, so a
// leak names its way in.
const (
	canarySecret  = "canary-hostsecret-6d0b3f" // a host secret an env template reads
	canarySops    = "canary-sops-env-5d1c9e"   // in compose/sops/testdata/sops/app.sops.env
	canaryEnvFile = "canary-envfile-a4c871"    // a line of a plain env_file
	canaryOSEnv   = "canary-osenv-2f95e0"      // the process environment, interpolated by the CLI
	canaryLog     = "canarylog-7be2c4"         // a line the container prints before it fails its gate
)

var trustCanaries = []string{canarySecret, canarySops, canaryEnvFile, canaryOSEnv, canaryLog}

// trustCompose uses every way in: a host secret through an env template
// (into the environment, and interpolated into a label), a sops env file, a
// plain env file and a process variable in interpolation (into the
// environment and a label, which berth config does not mask).
const trustCompose = `services:
  web:
    image: @IMAGE@
    restart: unless-stopped
    env_file: [app.env.tmpl, app.sops.env, plain.env]
    environment:
      FROM_OSENV: ${TRUST_OSENV_CANARY:-unset}
      HEALTHY: "@HEALTHY@"
    labels:
      dev.example.osenv: ${TRUST_OSENV_CANARY:-unset}
      dev.example.token: ${TMPL_TOKEN}
    healthcheck:
      test: ["CMD", "/app", "health"]
      interval: 500ms
      timeout: 1s
      retries: 3
    x-berth:
      health_timeout: 6s
`

func trustStack(image string, healthy bool) string {
	h := "true"
	if !healthy {
		h = "false"
	}
	return strings.NewReplacer("@IMAGE@", image, "@HEALTHY@", h).Replace(trustCompose)
}

// recorder is a test server standing in for a notification receiver and a
// Git host's commit status API: it keeps every request it is sent.
type recorder struct {
	mu   sync.Mutex
	seen bytes.Buffer
	n    int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.n++
	r.seen.WriteString(req.Method + " " + req.URL.String() + "\n")
	for k, v := range req.Header {
		r.seen.WriteString(k + ": " + strings.Join(v, ",") + "\n")
	}
	r.seen.Write(body)
	r.seen.WriteString("\n")
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, "{}")
}

func (r *recorder) text() (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen.String(), r.n
}

// logCanaryImage is an image whose program prints canaryLog at start: the
// test image prints its VERSION, set from the tag it is built for, and a
// second tag names it in the compose file, so the canary is in no file
// berth reads, only in the container's output.
func logCanaryImage(t *testing.T, cli *client.Client) string {
	t.Helper()
	built, tag := "berthtest/trustlog:"+canaryLog, "berthtest/trustlog:bad"
	testenv.BuildImages(t, cli, built)
	if _, err := cli.ImageTag(context.Background(), client.ImageTagOptions{Source: built, Target: tag}); err != nil {
		t.Fatal(err)
	}
	return tag
}

// TestTrustValues plants a canary in each way a value reaches berth, and
// drives a deploy, a failed health gate (rolled back) and a commit that
// fails to load through a real `berth run`, in the text and the JSON log
// formats. No canary may appear in any output: the log, status, history,
// the notifications and commit statuses, /metrics, `berth plan`, `berth
// diff`, `berth config`, and the data dir's files, except where the values
// must be (see dataDirFiles).
func TestTrustValues(t *testing.T) {
	t.Setenv("TRUST_OSENV_CANARY", canaryOSEnv)
	in := newInfra(t)
	app := in.project("app")
	bad := logCanaryImage(t, in.cli)

	secretsDir := t.TempDir()
	writeFile0600(t, filepath.Join(secretsDir, app.project, "api_token"), canarySecret+"\n")
	fixtures := filepath.Join("..", "compose", "sops", "testdata", "sops")
	sopsEnv, err := os.ReadFile(filepath.Join(fixtures, "app.sops.env"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := filepath.Abs(filepath.Join(fixtures, "key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	in.write("app", "compose.yaml", trustStack("berthtest/app:1.0", true))
	in.write("app", "app.env.tmpl", "API_TOKEN={{ secret \"api_token\" }}\n")
	in.write("app", ".env.tmpl", "TMPL_TOKEN={{ secret \"api_token\" }}\n")
	in.write("app", "app.sops.env", string(sopsEnv))
	in.write("app", "plain.env", "APP_BANNER="+canaryEnvFile+"\n")
	good := in.commit("app with a secret in every way")

	sink := &recorder{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	files := t.TempDir()
	hookSecret := filepath.Join(files, "hook")
	statusToken := filepath.Join(files, "status-token")
	writeFile0600(t, hookSecret, "notify-hook-secret\n")
	writeFile0600(t, statusToken, "status-token\n")
	common := []string{"--secrets-dir", secretsDir, "--age-key-file", key,
		"--notify-webhook-url", srv.URL + "/notify", "--notify-webhook-secret-file", hookSecret,
		"--commit-status-provider", "gitea", "--commit-status-url", srv.URL, "--commit-status-token-file", statusToken,
		"--commit-status-owner", "ops", "--commit-status-repo", "infra"}

	dataDir := filepath.Join(t.TempDir(), "data")
	run := in.startBerth(dataDir, common...)
	run.waitApplied(app.project, good, 90*time.Second)

	t.Log("a new image that prints a canary and fails its health gate is rolled back")
	in.write("app", "compose.yaml", trustStack(bad, false))
	failed := in.commit("web prints a canary and never becomes healthy")
	run.waitFor("rolled back", 90*time.Second, func() bool {
		s := run.stackState(app.project)
		return s.State == controller.StateRolledBack && s.Failed == failed
	})
	s := run.stackState(app.project)
	if !strings.Contains(s.Error, "docker logs --tail 20 "+app.name("web", 1)) || !strings.Contains(s.Error, "log lines") {
		t.Errorf("the failure should count the log lines and name the command that shows them: %q", s.Error)
	}

	t.Log("a commit whose template asks for a secret the host lacks stalls")
	in.write("app", "compose.yaml", trustStack("berthtest/app:1.0", true))
	in.write("app", "app.env.tmpl", "API_TOKEN={{ secret \"api_token\" }}\nMISSING={{ secret \"missing\" }}\n")
	stalled := in.commit("web needs a secret the host lacks")
	run.waitFor("stalled", 60*time.Second, func() bool {
		s := run.stackState(app.project)
		return s.State == controller.StateStalled && s.Attempted == stalled
	})
	run.waitFor("notifications and commit statuses sent", 30*time.Second, func() bool {
		text, _ := sink.text()
		return strings.Contains(text, "POST /notify") && strings.Contains(text, "/statuses/"+failed) &&
			strings.Contains(text, "/statuses/"+stalled) && strings.Contains(text, `"commit":"`+stalled)
	})

	outputs := map[string]string{"berth run log (json)": run.logs()}
	outputs["status"], _, _ = runBerth(t, "status", "--server", run.addr, "--json")
	outputs["history"], _, _ = runBerth(t, "history", app.project, "--server", run.addr, "--json", "--limit", "50")
	outputs["status (text)"], _, _ = runBerth(t, "status", "--server", run.addr)
	outputs["history (text)"], _, _ = runBerth(t, "history", app.project, "--server", run.addr, "--limit", "50")
	outputs["/metrics"] = httpGet(t, "http://"+run.addr+"/metrics")
	outputs["notifications and commit statuses"], _ = sink.text()
	run.stop()
	for name, text := range dataDirFiles(t, dataDir) {
		outputs["data dir: "+name] = text
	}

	t.Log("the same host in the text log format, from its data dir")
	text := startBerthArgs(t, dataDir, append([]string{"run", "--repo", in.srv.URL("infra"), "--git-username", gitUser,
		"--git-password-file", writeFile0600(t, filepath.Join(files, "pw"), gitPassword+"\n"),
		"--data-dir", dataDir, "--listen", freeAddr(t), "--poll", "1s", "--host", "host-a", "--log-format", "text",
		"--settle", "500ms"}, common...))
	text.waitFor("the stalled commit seen again", 60*time.Second, func() bool {
		return strings.Contains(text.logs(), "stalled") || strings.Contains(text.logs(), "in sync")
	})
	// Not the files of the commit that failed: berth never retries those.
	in.write("app", "compose.yaml", trustStack(bad, false)+"# again\n")
	in.write("app", "app.env.tmpl", "API_TOKEN={{ secret \"api_token\" }}\n")
	again := in.commit("web fails its gate again")
	text.waitFor("rolled back again", 90*time.Second, func() bool {
		s := text.stackState(app.project)
		return s.State == controller.StateRolledBack && s.Failed == again
	})
	outputs["berth run log (text)"] = text.logs()
	text.stop()

	t.Log("the CLI on the stack folder, with the process variable set")
	dir := filepath.Join(in.work.Dir, "stacks", app.project)
	for _, args := range [][]string{
		{"plan", "--secrets-dir", secretsDir, "--age-key-file", key, dir},
		{"plan", "--json", "--secrets-dir", secretsDir, "--age-key-file", key, dir},
		{"config", "--secrets-dir", secretsDir, "--age-key-file", key, dir},
		{"config", "--hash", "--secrets-dir", secretsDir, "--age-key-file", key, dir},
		{"diff", "--repo", in.work.Dir, good, again},
		{"diff", "--json", "--repo", in.work.Dir, good, again},
	} {
		out, errOut, _ := runBerth(t, args...)
		outputs["berth "+strings.Join(args[:2], " ")] = out + errOut
	}
	if out := outputs["berth config --secrets-dir"]; !strings.Contains(out, "FROM_OSENV") {
		t.Fatalf("berth config did not load the stack:\n%s", out)
	}

	for where, text := range outputs {
		for _, c := range trustCanaries {
			if strings.Contains(text, c) {
				t.Errorf("%s shows canary %s:\n%s", where, c, excerpt(text, c))
			}
		}
	}
}

// dataDirFiles reads the files berth keeps in its data dir, except those
// that must hold the values: repo/ is the clone (the repository's own
// files: an env_file line is there by design), stacks/ the exported stack
// folders the loader reads (the same files), and rendered/ the decrypted
// files that containers mount (sops plaintexts, by design, in a 0700
// folder).
func dataDirFiles(t *testing.T, dataDir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dataDir, path)
		if d.IsDir() {
			switch rel {
			case "repo", "stacks", "rendered":
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no file in the data dir %s", dataDir)
	}
	return out
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile0600(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// excerpt is the text around the first c, for the failure message.
func excerpt(text, c string) string {
	i := strings.Index(text, c)
	from, to := max(0, i-300), min(len(text), i+len(c)+300)
	return text[from:to]
}
