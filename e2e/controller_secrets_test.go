package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller"
)

// TestControllerSecrets: an env template fills a service's environment from
// a host secret; changing the secret on the host rolls that service (and
// only it); a missing secret stalls a commit naming the secret and the
// template's line; the value never shows in status, history or the log.
func TestControllerSecrets(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	// The stack's own secrets folder: a stack reads no shared secret
	// unless the host lists it.
	secretsDir := t.TempDir()
	secrets := filepath.Join(secretsDir, shop.project)
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	const first, second = "s3cret-canary-one", "s3cret-canary-two"
	writeSecret := func(v string) {
		if err := os.WriteFile(filepath.Join(secrets, "db_password"), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeSecret(first)
	compose := strings.Replace(shopCompose, "  worker:\n    image: berthtest/app:1.0\n", "  worker:\n    image: berthtest/app:1.0\n    env_file: app.env.tmpl\n", 1)
	in.write("shop", "compose.yaml", compose)
	in.write("shop", "app.env.tmpl", "# filled on the host\nDB_PASSWORD={{ secret \"db_password\" }}\n")
	c1 := in.commit("worker reads its password from a host secret")
	run := in.startBerth("", "--secrets-dir", secretsDir)
	run.waitApplied(shop.project, c1, 90*time.Second)
	worker, web := shop.name("worker", 1), shop.name("web", 1)
	before := shop.containers()
	if env := shop.exec(before[worker].ID, "/app", "cat", "/proc/1/environ"); !strings.Contains(env, "DB_PASSWORD="+first) {
		t.Fatal("the worker's environment lacks the rendered secret")
	}

	t.Log("the secret changes on the host: the worker rolls, web does not")
	writeSecret(second)
	run.waitFor("worker recreated with the new secret", 30*time.Second, func() bool {
		c, ok := shop.containers()[worker]
		return ok && c.ID != before[worker].ID && c.State == "running"
	})
	after := shop.containers()
	if env := shop.exec(after[worker].ID, "/app", "cat", "/proc/1/environ"); !strings.Contains(env, "DB_PASSWORD="+second) {
		t.Fatal("the new worker lacks the new secret")
	}
	if after[web].ID != before[web].ID {
		t.Fatal("web, which uses no secret, was recreated")
	}

	t.Log("a template asking for a secret the host lacks stalls the commit")
	in.write("shop", "app.env.tmpl", "DB_PASSWORD={{ secret \"db_password\" }}\nAPI_KEY={{ secret \"api_key\" }}\n")
	bad := in.commit("worker needs an api key")
	run.waitFor("stalled", 30*time.Second, func() bool {
		s := run.stackState(shop.project)
		return s.State == controller.StateStalled && s.Attempted == bad
	})
	s := run.stackState(shop.project)
	if !strings.Contains(s.Error, `"api_key"`) || !strings.Contains(s.Error, "app.env.tmpl") || !strings.Contains(s.Error, "line 2") {
		t.Fatalf("the stall should name the secret, the template and its line: %q", s.Error)
	}
	out, _, _ := runBerth(t, "history", shop.project, "--socket", run.socket, "--json")
	st, _, _ := runBerth(t, "status", "--socket", run.socket, "--json")
	for _, text := range []string{run.logs(), out, st} {
		if strings.Contains(text, first) || strings.Contains(text, second) {
			t.Fatal("a secret value reached the log, status or history")
		}
	}
}
