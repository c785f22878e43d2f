package load

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose"
)

// TestLoadTeachesRedactor: a load teaches the Redactor every kind of
// value it reads (a host secret, an env_file line, the process
// environment used in interpolation), even when the load fails.
func TestLoadTeachesRedactor(t *testing.T) {
	t.Setenv("BERTH_TEST_OSENV", "canary-osenv-7a1d")
	s := newSecretStack(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: example/web:${BERTH_TEST_OSENV}\n    env_file: [app.env.tmpl, plain.env]\n",
		"app.env.tmpl": "DB_PASSWORD={{ secret \"db_password\" }}\n",
		"plain.env":    "API_KEY=canary-envfile-93c2\nON=1\n",
	}, map[string]string{"shop/db_password": "canary-secret-4be1\n"})
	red := &compose.Redactor{}
	s.o.Redactor, s.o.OSEnv, s.o.Stack = red, true, "shop"
	s.load(t)
	for _, v := range []string{"canary-osenv-7a1d", "canary-envfile-93c2", "canary-secret-4be1"} {
		if got := red.String("x " + v + " y"); got != "x ******** y" {
			t.Errorf("the Redactor does not know %s: %q", v, got)
		}
	}

	failing := &compose.Redactor{}
	s.o.Redactor = failing
	writeFile(t, filepath.Join(s.dir, ".env.tmpl"), "PW={{ secret \"db_password\" }}\n")
	writeFile(t, filepath.Join(s.dir, "compose.yaml"), "services:\n  web:\n    image: example/web:1\n    bad_field: 1\n")
	if _, err := Load(context.Background(), s.o); err == nil {
		t.Fatal("a bad compose file loads")
	}
	if got := failing.String("canary-secret-4be1"); got != compose.Redacted {
		t.Errorf("a failed load did not teach the secret it read: %q", got)
	}
}

// TestSecretsPerStack: a stack reads its own secrets first; a shared one
// only when the host lists its name, and otherwise fails naming the
// template, the secret and the fix.
func TestSecretsPerStack(t *testing.T) {
	s := newSecretStack(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: example/web:1.4\n    env_file: app.env.tmpl\n",
		"app.env.tmpl": "A={{ secret \"own\" }}\nB={{ secret \"smtp_password\" }}\n",
	}, map[string]string{"shop/own": "own-value", "own": "shared-own", "smtp_password": "shared-smtp", "other/smtp_password": "other-stack"})
	s.o.Stack = "shop"
	_, err := Load(context.Background(), s.o)
	if err == nil {
		t.Fatal("a stack read a shared secret the host does not allow")
	}
	for _, want := range []string{"env template app.env.tmpl, line 2", `secret "smtp_password" is shared`,
		filepath.Join(s.secrets, "shop", "smtp_password"), "shared_secrets"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "shared-smtp") {
		t.Errorf("the error shows the value: %v", err)
	}
	s.o.SharedSecrets = []string{"billing/smtp_*"}
	if _, err := Load(context.Background(), s.o); err == nil {
		t.Fatal("a pattern for another stack let this one read a shared secret")
	}
	s.o.SharedSecrets = []string{"shop/smtp_*"}
	s.load(t)
	s.o.SharedSecrets = []string{"smtp_*"}
	p := s.load(t)
	if a, b := env(t, p, "web", "A"), env(t, p, "web", "B"); a != "own-value" || b != "shared-smtp" {
		t.Errorf("A=%q B=%q; want the stack's own, then the shared one", a, b)
	}
}
