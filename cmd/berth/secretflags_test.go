package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/load"
)

func parseSecretFlags(t *testing.T, env map[string]string, args ...string) *secretFlags {
	t.Helper()
	fs := pflag.NewFlagSet("config", pflag.ContinueOnError)
	f := &secretFlags{getenv: func(k string) string { return env[k] }}
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSecretFlagsPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name             string
		env              map[string]string
		args             []string
		wantDir, wantKey string
	}{
		{"defaults", nil, nil, "/etc/berth/secrets", ""},
		{"sops variable", map[string]string{"SOPS_AGE_KEY_FILE": "/k/sops"}, nil, "/etc/berth/secrets", "/k/sops"},
		{"berth variables", map[string]string{"SOPS_AGE_KEY_FILE": "/k/sops", "BERTH_AGE_KEY_FILE": "/k/berth", "BERTH_SECRETS_DIR": "/s/env"}, nil, "/s/env", "/k/berth"},
		{"flags", map[string]string{"BERTH_AGE_KEY_FILE": "/k/berth", "BERTH_SECRETS_DIR": "/s/env"},
			[]string{"--secrets-dir", "/s/flag", "--age-key-file", "/k/flag"}, "/s/flag", "/k/flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := parseSecretFlags(t, tc.env, tc.args...)
			o := load.LoadOptions{Dir: t.TempDir()}
			cleanup, err := f.fill(&o, false)
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			if o.SecretsDir != tc.wantDir || o.AgeKeyFile != tc.wantKey {
				t.Errorf("secrets dir %q, age key %q; want %q, %q", o.SecretsDir, o.AgeKeyFile, tc.wantDir, tc.wantKey)
			}
			// Nothing is made until the loader has something to render.
			if _, err := os.Stat(o.RenderDir); !errors.Is(err, fs.ErrNotExist) || filepath.Dir(o.RenderDir) == "" {
				t.Errorf("render dir %s made before anything was rendered: %v", o.RenderDir, err)
			}
			if err := os.MkdirAll(o.RenderDir, 0o700); err != nil {
				t.Fatal(err)
			}
			cleanup()
			if _, err := os.Stat(o.RenderDir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("cleanup left the render dir: %v", err)
			}
		})
	}
}

func TestPersistentRenderDir(t *testing.T) {
	stack := filepath.Join(t.TempDir(), "shop")
	f := parseSecretFlags(t, map[string]string{"HOME": "/home/op"})
	o := load.LoadOptions{Dir: stack}
	if _, err := f.fill(&o, true); err != nil {
		t.Fatal(err)
	}
	if dir := filepath.Dir(o.RenderDir); dir != "/home/op/.local/state/berth/rendered" || !strings.HasPrefix(filepath.Base(o.RenderDir), "shop-") {
		t.Errorf("apply renders into %s", o.RenderDir)
	}
	f = parseSecretFlags(t, map[string]string{"HOME": "/home/op", "XDG_STATE_HOME": "/var/state"})
	if _, err := f.fill(&o, true); err != nil || !strings.HasPrefix(o.RenderDir, "/var/state/berth/rendered/shop-") {
		t.Errorf("with XDG_STATE_HOME: %s %v", o.RenderDir, err)
	}
}

// canaryStack is a stack folder that takes a canary secret in every way
// there is: an env template, a sops env file, a sops file secret.
func canaryStack(t *testing.T) (dir, secrets, key string) {
	t.Helper()
	root := t.TempDir()
	dir, secrets = filepath.Join(root, "shop"), filepath.Join(root, "secrets")
	fixtures := filepath.Join("..", "..", "compose", "sops", "testdata", "sops")
	files := map[string]string{
		"compose.yaml": `services:
  web:
    image: example/web:1.4
    env_file: [app.env.tmpl, app.sops.env]
    environment:
      FROM_ENV_TEMPLATE: ${TMPL_PW}
    secrets: [tls]
secrets:
  tls:
    file: tls.key
`,
		"app.env.tmpl": "API_TOKEN={{ secret \"api_token\" }}\n",
		".env.tmpl":    "TMPL_PW={{ secret \"api_token\" }}\n",
	}
	for name, content := range files {
		writeTestFile(t, filepath.Join(dir, name), []byte(content))
	}
	for _, name := range []string{"app.sops.env", "tls.key"} {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, filepath.Join(dir, name), b)
	}
	// The stack's own secret: the CLI reads it in the folder named as the
	// stack folder.
	writeTestFile(t, filepath.Join(secrets, "shop", "api_token"), []byte("canary-cli-0f5e2a\n"))
	key, err := filepath.Abs(filepath.Join(fixtures, "key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, secrets, key
}

func writeTestFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

var cliCanaries = []string{"canary-cli-0f5e2a", "canary-sops-env-5d1c9e", "canary-sops-file-3e7a60"}

func assertNoCanary(t *testing.T, where, out string) {
	t.Helper()
	for _, c := range cliCanaries {
		if strings.Contains(out, c) {
			t.Errorf("%s shows %s:\n%s", where, c, out)
		}
	}
}

// TestConfigNeverShowsSecrets loads the canary stack with the options
// secretFlags fill, and prints it as `berth config` and `berth config
// --hash` do; and runs `berth config` itself, whatever its wiring.
func TestConfigNeverShowsSecrets(t *testing.T) {
	dir, secrets, key := canaryStack(t)
	f := parseSecretFlags(t, nil, "--secrets-dir", secrets, "--age-key-file", key)
	o := load.LoadOptions{Dir: dir, OSEnv: true}
	cleanup, err := f.fill(&o, false)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	p, err := load.Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if v := p.Services["web"].Environment["API_TOKEN"]; v == nil || *v != "canary-cli-0f5e2a" {
		t.Fatalf("the template's secret did not arrive: %v", v)
	}
	out, err := compose.Masked(p).MarshalYAML()
	if err != nil {
		t.Fatal(err)
	}
	var hashes bytes.Buffer
	for _, name := range p.ServiceNames() {
		h, err := compose.ServiceHash(p.Services[name])
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&hashes, "%s %s\n", name, h)
	}
	assertNoCanary(t, "config", string(out))
	assertNoCanary(t, "config --hash", hashes.String())
	if !strings.Contains(string(out), "API_TOKEN: '********'") || !strings.Contains(string(out), load.LabelBerthRendered) {
		t.Errorf("config output:\n%s", out)
	}

	// A missing secret: the error names it, never another one's value.
	if err := os.Remove(filepath.Join(secrets, "shop", "api_token")); err != nil {
		t.Fatal(err)
	}
	_, err = load.Load(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), `secret "api_token" is not in `+filepath.Join(secrets, "shop", "api_token")) {
		t.Errorf("missing secret: %v", err)
	}

	// A shared secret at the top of the secrets dir is refused until the
	// host lists it, and the error says how to fix it.
	writeTestFile(t, filepath.Join(secrets, "api_token"), []byte("canary-cli-0f5e2a\n"))
	_, err = load.Load(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), `secret "api_token" is shared`) || !strings.Contains(err.Error(), "shared_secrets") ||
		!strings.Contains(err.Error(), "env template .env.tmpl, line 1") {
		t.Errorf("refused shared secret: %v", err)
	}
	assertNoCanary(t, "refused shared secret", err.Error())
	shared := parseSecretFlags(t, nil, "--secrets-dir", secrets, "--age-key-file", key, "--shared-secrets", "api_*")
	so := load.LoadOptions{Dir: dir, OSEnv: true}
	cleanupShared, err := shared.fill(&so, false)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanupShared()
	if _, err := load.Load(context.Background(), so); err != nil {
		t.Errorf("a shared secret the host allows: %v", err)
	}

	// berth config through the CLI, with the flags and variables it has.
	dir, secrets, key = canaryStack(t)
	t.Setenv("BERTH_SECRETS_DIR", secrets)
	t.Setenv("SOPS_AGE_KEY_FILE", key)
	for _, args := range [][]string{{"config", dir}, {"config", "--hash", dir}, {"config", "--secrets-dir", secrets, "--age-key-file", key, dir}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		assertNoCanary(t, fmt.Sprintf("berth %s (exit %d)", strings.Join(args, " "), code), stdout.String()+stderr.String())
	}
}
