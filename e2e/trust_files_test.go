package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller"
)

// trustCanary is what the host's files and berth's own environment hold
// in these tests: it must never reach status, history or the log.
const trustCanary = "trust-files-canary-51c0d7"

// TestTrustFilesStayInTheStackFolder: a commit that names a host file (an
// absolute env_file, one reached with ../, berth's own /proc/self/environ,
// a secret or config file elsewhere on the host, a bind mount of ../..)
// stalls with an error that names the service, the field and the path,
// the live stack stays exactly as the previous commit left it, and the
// host file's content shows nowhere.
func TestTrustFilesStayInTheStackFolder(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	host := t.TempDir()
	token := filepath.Join(host, "secrets", "api_token")
	shadow := filepath.Join(host, "etc", "shadow")
	for path, content := range map[string]string{
		token:  "API_TOKEN=" + trustCanary + "\n",
		shadow: "root:" + trustCanary + ":19000:0:99999:7:::\n",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// berth's environment holds the canary too: /proc/self/environ is its own.
	t.Setenv("BERTH_TRUST_CANARY", trustCanary)

	in.write("shop", "compose.yaml", shopCompose)
	good := in.commit("shop")
	run := in.startBerth("")
	run.waitApplied(shop.project, good, 90*time.Second)
	before := ids(shop.containers())

	// Enough ../ to reach / from wherever berth keeps the stack folder.
	up := strings.Repeat("../", 24)
	worker := func(extra string) string {
		return strings.Replace(shopCompose, "  worker:\n    image: berthtest/app:1.0\n", "  worker:\n    image: berthtest/app:1.0\n"+extra, 1)
	}
	for _, tc := range []struct {
		name, compose string
		want          []string
	}{
		{"env_file absolute", worker("    env_file: [" + token + "]\n"),
			[]string{`service "worker": env_file ` + token + ` is outside the stack folder`}},
		{"env_file up the tree", worker("    env_file: [" + up + strings.TrimPrefix(token, "/") + "]\n"),
			[]string{`service "worker": env_file`, "is outside the stack folder"}},
		{"env_file proc environ", worker("    env_file: [/proc/self/environ]\n"),
			[]string{`service "worker": env_file /proc/self/environ is outside the stack folder`}},
		{"secret file", worker("    secrets: [db]\n") + "secrets:\n  db:\n    file: " + shadow + "\n",
			[]string{`secret "db": file ` + shadow + ` is outside the stack folder`}},
		{"config file", worker("    configs: [appconf]\n") + "configs:\n  appconf:\n    file: " + shadow + "\n",
			[]string{`config "appconf": file ` + shadow + ` is outside the stack folder`}},
		{"bind up the tree", worker("    volumes: [\"../..:/data:ro\"]\n"),
			[]string{`service "worker": volumes`, "is outside the stack folder"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in.write("shop", "compose.yaml", tc.compose)
			bad := in.commit("worker reads a host file: " + tc.name)
			s, ok := pollStalled(run, shop.project, bad, 30*time.Second)
			if !ok {
				t.Errorf("the commit did not stall: %s at %.12s, applied %.12s, error %q", s.State, s.Attempted, s.Applied, s.Error)
			}
			t.Logf("stalled: %s", s.Error)
			for _, w := range tc.want {
				if !strings.Contains(s.Error, w) {
					t.Errorf("the stall does not say %q: %q", w, s.Error)
				}
			}
			if s.Applied != good {
				t.Errorf("applied %s, want the previous commit %s", s.Applied, good)
			}
			if after := ids(shop.containers()); after != before {
				t.Errorf("a refused commit changed the live stack:\n%s\n→ %s", before, after)
			}
			history, _, _ := runBerth(t, "history", shop.project, "--socket", run.socket, "--json")
			status, _, _ := runBerth(t, "status", "--socket", run.socket, "--json")
			if !strings.Contains(history, bad[:12]) && !strings.Contains(history, bad) {
				t.Errorf("history does not list the stalled commit: %s", history)
			}
			for what, text := range map[string]string{"status": status, "history": history, "log": run.logs()} {
				if strings.Contains(text, trustCanary) {
					t.Errorf("the host file's content reached the %s", what)
				}
			}
		})
	}
}

// waitStalled polls until the stack stalled at commit hash, and reports
// whether it did within timeout (a subtest must not stop its parent).
func pollStalled(run *berthRun, stack, hash string, timeout time.Duration) (controller.StackStatus, bool) {
	deadline := time.Now().Add(timeout)
	for {
		s := run.stackState(stack)
		if s.State == controller.StateStalled && s.Attempted == hash {
			return s, true
		}
		if time.Now().After(deadline) {
			return s, false
		}
		time.Sleep(200 * time.Millisecond)
	}
}
