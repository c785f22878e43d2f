package load

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose"
	"github.com/compose-spec/compose-go/v2/types"
)

// secretStack is a stack folder using every way a secret comes in, with
// the host's secrets dir, the test age key and a render dir.
type secretStack struct {
	dir, secrets, render string
	o                    LoadOptions
}

func newSecretStack(t *testing.T, files map[string]string, secrets map[string]string) *secretStack {
	t.Helper()
	root := t.TempDir()
	s := &secretStack{
		dir:     filepath.Join(root, "repo", "shop"),
		secrets: filepath.Join(root, "secrets"),
		render:  filepath.Join(root, "data", "rendered", "shop"),
	}
	for name, content := range files {
		if fixture, ok := strings.CutPrefix(content, "fixture:"); ok {
			b, err := os.ReadFile(filepath.Join(sopsFixtures, fixture))
			if err != nil {
				t.Fatal(err)
			}
			content = string(b)
		}
		writeFile(t, filepath.Join(s.dir, name), content)
	}
	if err := os.MkdirAll(s.secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, v := range secrets {
		writeFile(t, filepath.Join(s.secrets, name), v)
	}
	key, _ := filepath.Abs(filepath.Join(sopsFixtures, "key.txt"))
	s.o = LoadOptions{Dir: s.dir, SecretsDir: s.secrets, AgeKeyFile: key, RenderDir: s.render}
	return s
}

func (s *secretStack) load(t *testing.T) *types.Project {
	t.Helper()
	p, err := Load(context.Background(), s.o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func env(t *testing.T, p *types.Project, service, key string) string {
	t.Helper()
	v := p.Services[service].Environment[key]
	if v == nil {
		t.Fatalf("service %s has no %s: %v", service, key, p.Services[service].Environment)
	}
	return *v
}

func TestEnvTemplateAsEnvFile(t *testing.T) {
	s := newSecretStack(t, map[string]string{
		"compose.yaml":  "services:\n  web:\n    image: example/web:1.4\n    env_file: app.env.tmpl\n",
		"app.env.tmpl":  "# rendered on the host\nDB_USER=app\nDB_PASSWORD={{ secret \"db_password\" }}\nDB_URL=postgres://app:{{ secret \"db_password\" }}@db/app\n",
		".env":          "UNUSED=1\n",
		"README.md":     "not a secret\n",
		"other.env.txt": "X=1\n",
	}, map[string]string{"db_password": "s3cr$t 'x'\n"})
	p := s.load(t)
	if got := env(t, p, "web", "DB_PASSWORD"); got != "s3cr$t 'x'" {
		t.Errorf("DB_PASSWORD = %q", got)
	}
	if got := env(t, p, "web", "DB_URL"); got != "postgres://app:s3cr$t 'x'@db/app" {
		t.Errorf("DB_URL = %q", got)
	}
	if got := env(t, p, "web", "DB_USER"); got != "app" {
		t.Errorf("DB_USER = %q", got)
	}
	// The rendered env file lived only during the load.
	entries, _ := os.ReadDir(s.render)
	if len(entries) != 0 {
		t.Errorf("render dir keeps %d entries after the load: %v", len(entries), entries)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "app.env")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("something was written into the stack folder: %v", err)
	}
}

func TestEnvTemplatesForInterpolation(t *testing.T) {
	s := newSecretStack(t, map[string]string{
		"compose.yaml":              "services:\n  web:\n    image: example/web:${TAG}\n    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n      LEVEL: ${LEVEL}\n",
		".env":                      "TAG=1.4\nLEVEL=debug\n",
		".env.tmpl":                 "DB_PASSWORD={{ secret \"db_password\" }}\n",
		"production.env":            "LEVEL=info\n",
		"production.env.tmpl":       "DB_PASSWORD={{ secret \"db_password_prod\" }}\n",
		"compose.production.yaml":   "services:\n  web:\n    labels: [env=production]\n",
		"staging.env.tmpl":          "DB_PASSWORD={{ secret \"never_read\" }}\n",
		"stacks-are-self-contained": "",
	}, map[string]string{"db_password": "dev-pw", "db_password_prod": "prod-pw"})
	p := s.load(t)
	if got := env(t, p, "web", "DB_PASSWORD"); got != "dev-pw" {
		t.Errorf("without --env: DB_PASSWORD = %q", got)
	}
	s.o.Env = "production"
	p = s.load(t)
	if got, level := env(t, p, "web", "DB_PASSWORD"), env(t, p, "web", "LEVEL"); got != "prod-pw" || level != "info" {
		t.Errorf("production: DB_PASSWORD = %q, LEVEL = %q", got, level)
	}
	if img := p.Services["web"].Image; img != "example/web:1.4" {
		t.Errorf("image %q", img)
	}
	label := p.Services["web"].CustomLabels[compose.LabelEnvironmentFile]
	for _, want := range []string{".env,", ".env.tmpl,", "production.env.tmpl"} {
		if !strings.Contains(label, filepath.Join(s.dir, want)) {
			t.Errorf("%s label %q does not name %s", compose.LabelEnvironmentFile, label, want)
		}
	}
}

func TestMissingSecretIsALoadError(t *testing.T) {
	s := newSecretStack(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: example/web:1.4\n    env_file: [plain.env, app.env.tmpl]\n",
		"plain.env":    "A=1\n",
		"app.env.tmpl": "A=1\nB=2\nAPI_TOKEN={{ secret \"api_token\" }}\n",
	}, nil)
	_, err := Load(context.Background(), s.o)
	if !IsLoadError(err) {
		t.Fatalf("want a LoadError, got %T %v", err, err)
	}
	for _, want := range []string{`secret "api_token" is not in ` + s.secrets, "app.env.tmpl, line 3", `service "web"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestSecretNamesCannotLeaveTheSecretsDir(t *testing.T) {
	for _, name := range []string{"../outside", "..", ".", "a/b", "/etc/passwd", "x\x00y", ""} {
		s := newSecretStack(t, map[string]string{
			"compose.yaml": "services:\n  web:\n    image: example/web:1.4\n    env_file: app.env.tmpl\n",
			"app.env.tmpl": "X={{ secret \"" + strings.ReplaceAll(name, "\x00", `\x00`) + "\" }}\n",
		}, nil)
		writeFile(t, filepath.Join(filepath.Dir(s.secrets), "outside"), "canary-outside-9d2\n")
		_, err := Load(context.Background(), s.o)
		if err == nil || !strings.Contains(err.Error(), "use letters, digits") {
			t.Errorf("secret %q: %v", name, err)
		}
	}
}

func TestSopsFilesInAStack(t *testing.T) {
	s := newSecretStack(t, map[string]string{
		"compose.yaml": `services:
  web:
    image: example/web:1.4
    env_file: app.sops.env
    environment:
      FROM_DOTENV: ${DB_PASSWORD}
    secrets: [tls, settings]
    configs: [api]
  worker:
    image: example/web:1.4
secrets:
  tls:
    file: ./tls.key
  settings:
    file: ./config.sops.yaml
configs:
  api:
    file: ./config.sops.json
`,
		"app.sops.env":     "fixture:app.sops.env",
		".sops.env":        "fixture:app.sops.env",
		"tls.key":          "fixture:tls.key",
		"config.sops.yaml": "fixture:config.sops.yaml",
		"config.sops.json": "fixture:config.sops.json",
	}, nil)
	p := s.load(t)
	if got := env(t, p, "web", "DB_PASSWORD"); got != "canary-sops-env-5d1c9e" {
		t.Errorf("DB_PASSWORD = %q", got)
	}
	if got := env(t, p, "web", "DB_URL"); got != "postgres://app:pa$word@db:5432/app" {
		t.Errorf("DB_URL = %q (read as compose reads `sops decrypt` output)", got)
	}
	if got := env(t, p, "web", "FROM_DOTENV"); got != "canary-sops-env-5d1c9e" {
		t.Errorf("interpolation from .sops.env: %q", got)
	}
	tls := p.Secrets["tls"].File
	if filepath.Dir(tls) != s.render || !strings.HasPrefix(filepath.Base(tls), "tls.key-") {
		t.Errorf("tls secret at %s, want %s/tls.key-<digest>", tls, s.render)
	}
	if b, _ := os.ReadFile(tls); string(b) != string(readFixture(t, "plain/tls.key")) {
		t.Errorf("tls secret holds %q", b)
	}
	if b, _ := os.ReadFile(p.Secrets["settings"].File); !sameYAML(b, readFixture(t, "plain/config.yaml")) {
		t.Errorf("settings secret holds %q", b)
	}
	if b, _ := os.ReadFile(p.Configs["api"].File); !strings.Contains(string(b), "canary-sops-json-a4c6d2") {
		t.Errorf("api config holds %q", b)
	}
	st, err := os.Stat(s.render)
	if err != nil || st.Mode().Perm() != renderDirMode {
		t.Errorf("render dir: %v %v, want mode %o", err, st, renderDirMode)
	}
	for _, f := range []string{tls, p.Secrets["settings"].File, p.Configs["api"].File} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != mountedFileMode {
			t.Errorf("%s: mode %v, want %o", f, st.Mode(), mountedFileMode)
		}
	}
	if p.Services["web"].Labels[LabelBerthRendered] == "" {
		t.Error("web mounts decrypted files and has no digest label")
	}
	if _, ok := p.Services["worker"].Labels[LabelBerthRendered]; ok {
		t.Error("worker mounts nothing and has a digest label")
	}
}

func TestRenderedEnvFileMode(t *testing.T) {
	r, err := newRenderer(t.TempDir(), LoadOptions{RenderDir: filepath.Join(t.TempDir(), "r")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	p, err := r.writeEnv("app.env", "A=1\n")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != renderedEnvMode {
		t.Errorf("rendered env file mode %v, want %o", st.Mode(), renderedEnvMode)
	}
	if st, err := os.Stat(filepath.Dir(p)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("its folder: mode %v, want 0700", st.Mode())
	}
	r.close()
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the load's env files outlive it: %v", err)
	}
}

func TestChangedSecretChangesTheServiceHash(t *testing.T) {
	hash := func(s *secretStack, service string) string {
		t.Helper()
		h, err := compose.ServiceHash(s.load(t).Services[service])
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	t.Run("file secret", func(t *testing.T) {
		s := newSecretStack(t, map[string]string{
			"compose.yaml":       "services:\n  web:\n    image: example/web:1.4\n    secrets: [settings]\nsecrets:\n  settings:\n    file: settings.sops.yaml\n",
			"settings.sops.yaml": "fixture:config.sops.yaml",
		}, nil)
		before := hash(s, "web")
		if again := hash(s, "web"); again != before {
			t.Fatalf("the hash changes between two loads: %s, %s", before, again)
		}
		s.o.RenderDir = filepath.Join(t.TempDir(), "elsewhere")
		if other := hash(s, "web"); other != before {
			t.Errorf("the hash depends on the render dir: %s, %s", before, other)
		}
		// Only the secret's content changes: another sops file, same name.
		writeFile(t, filepath.Join(s.dir, "settings.sops.yaml"), string(readFixture(t, "partial.sops.yaml")))
		if after := hash(s, "web"); after == before {
			t.Error("the service hash did not change with the secret file's content")
		}
	})
	t.Run("template secret", func(t *testing.T) {
		s := newSecretStack(t, map[string]string{
			"compose.yaml": "services:\n  web:\n    image: example/web:1.4\n    env_file: app.env.tmpl\n",
			"app.env.tmpl": "PW={{ secret \"pw\" }}\n",
		}, map[string]string{"pw": "one"})
		before := hash(s, "web")
		writeFile(t, filepath.Join(s.secrets, "pw"), "two")
		if after := hash(s, "web"); after == before {
			t.Error("the service hash did not change with the secret")
		}
	})
}

func TestSopsLoadErrors(t *testing.T) {
	files := map[string]string{
		"compose.yaml": "services:\n  web:\n    image: example/web:1.4\n    env_file: app.sops.env\n",
		"app.sops.env": "fixture:app.sops.env",
	}
	s := newSecretStack(t, files, nil)
	s.o.AgeKeyFile = ""
	if _, err := Load(context.Background(), s.o); err == nil || !strings.Contains(err.Error(), "sops file app.sops.env: no age key to decrypt it: set --age-key-file") {
		t.Errorf("no key: %v", err)
	}
	s = newSecretStack(t, files, nil)
	s.o.RenderDir = ""
	if _, err := Load(context.Background(), s.o); err == nil || !strings.Contains(err.Error(), "render dir") {
		t.Errorf("no render dir: %v", err)
	}
	s = newSecretStack(t, files, nil)
	s.o.RenderDir = filepath.Join(s.dir, "rendered")
	if _, err := Load(context.Background(), s.o); err == nil || !strings.Contains(err.Error(), "inside the stack folder") {
		t.Errorf("render dir in the stack: %v", err)
	}
	s = newSecretStack(t, map[string]string{
		"compose.yaml": files["compose.yaml"],
		"app.sops.env": dropLine(string(readFixture(t, "app.sops.env")), "GREETING="),
	}, nil)
	if _, err := Load(context.Background(), s.o); !IsLoadError(err) || !strings.Contains(err.Error(), "sops file app.sops.env: MAC mismatch") {
		t.Errorf("altered file: %v", err)
	}
	s = newSecretStack(t, map[string]string{
		"compose.yaml": files["compose.yaml"],
		"app.sops.env": "DB_PASSWORD=committed-in-clear\n",
	}, nil)
	if _, err := Load(context.Background(), s.o); err == nil || !strings.Contains(err.Error(), "not a sops file") {
		t.Errorf("a *.sops.env in clear: %v", err)
	}
}

func TestPlaceholdersNeedNoSecrets(t *testing.T) {
	s := newSecretStack(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: example/web:1.4\n    env_file: [app.env.tmpl, app.sops.env]\n    secrets: [tls]\nsecrets:\n  tls:\n    file: tls.key\n",
		"app.env.tmpl": "PW={{ secret \"pw\" }}\n",
		"app.sops.env": "fixture:app.sops.env",
		"tls.key":      "fixture:tls.key",
	}, nil)
	o := LoadOptions{Dir: s.dir, Placeholders: true}
	p, err := Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := env(t, p, "web", "PW"); got != "berth-placeholder-pw" {
		t.Errorf("PW = %q", got)
	}
	if got := env(t, p, "web", "DB_PASSWORD"); !strings.HasPrefix(got, "sops-") || strings.Contains(got, "canary") {
		t.Errorf("DB_PASSWORD = %q", got)
	}
	if f := p.Secrets["tls"].File; f != filepath.Join(s.dir, "tls.key") {
		t.Errorf("tls points at %s, want the encrypted file", f)
	}
	if p.Services["web"].Labels[LabelBerthRendered] == "" {
		t.Error("no digest label: a diff would not see the secret file change")
	}
	if _, err := os.Stat(s.render); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a placeholder load wrote the render dir: %v", err)
	}
}

func TestPruneRendered(t *testing.T) {
	s := newSecretStack(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: example/web:1.4\n    secrets: [tls]\nsecrets:\n  tls:\n    file: tls.key\n",
		"tls.key":      "fixture:tls.key",
	}, nil)
	p := s.load(t)
	stale := filepath.Join(s.render, "tls.key-000000000000")
	writeFile(t, stale, "old")
	if err := PruneRendered(s.render, p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a file no project mounts was kept")
	}
	if _, err := os.Stat(p.Secrets["tls"].File); err != nil {
		t.Errorf("the live file was removed: %v", err)
	}
	if err := PruneRendered(filepath.Join(t.TempDir(), "none")); err != nil {
		t.Errorf("a missing render dir: %v", err)
	}
}

// TestSecretsNeverLeak plants a canary in every way a secret comes in and
// looks for it wherever berth could print or store it.
func TestSecretsNeverLeak(t *testing.T) {
	canaries := []string{"canary-tmpl-6b01f3", "canary-sops-env-5d1c9e", "canary-sops-yaml-8b2f41", "canary-sops-file-3e7a60", "canary-sops-json-a4c6d2"}
	files := map[string]string{
		"compose.yaml": `services:
  web:
    image: example/web:1.4
    env_file: [app.env.tmpl, app.sops.env]
    environment:
      FROM_TEMPLATE: ${TMPL_PW}
      FROM_SOPS: ${DB_PASSWORD}
    secrets: [tls, settings]
    configs: [api]
secrets:
  tls:
    file: tls.key
  settings:
    file: config.sops.yaml
configs:
  api:
    file: config.sops.json
`,
		"app.env.tmpl":     "TMPL_SECRET={{ secret \"tmpl_pw\" }}\n",
		".env.tmpl":        "TMPL_PW={{ secret \"tmpl_pw\" }}\n",
		".sops.env":        "fixture:app.sops.env",
		"app.sops.env":     "fixture:app.sops.env",
		"tls.key":          "fixture:tls.key",
		"config.sops.yaml": "fixture:config.sops.yaml",
		"config.sops.json": "fixture:config.sops.json",
	}
	s := newSecretStack(t, files, map[string]string{"tmpl_pw": "canary-tmpl-6b01f3\n"})
	p := s.load(t)
	if env(t, p, "web", "FROM_TEMPLATE") != "canary-tmpl-6b01f3" || env(t, p, "web", "FROM_SOPS") != "canary-sops-env-5d1c9e" {
		t.Fatal("the canaries did not arrive")
	}
	var outputs []string
	masked, err := compose.Masked(p).MarshalYAML()
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, "config output:\n"+string(masked))

	// Errors: each canary interpolated into a field that refuses it.
	for _, field := range []string{"${TMPL_PW}", "${DB_PASSWORD}"} {
		bad := newSecretStack(t, map[string]string{
			"compose.yaml": "services:\n  web:\n    image: example/web:1.4\n    ports: [\"" + field + "\"]\n",
			".env.tmpl":    files[".env.tmpl"],
			".sops.env":    files[".sops.env"],
		}, map[string]string{"tmpl_pw": "canary-tmpl-6b01f3\n"})
		_, err := Load(context.Background(), bad.o)
		if err == nil {
			t.Fatalf("ports: %s loads", field)
		}
		outputs = append(outputs, "load error: "+err.Error())
	}
	for _, broken := range []map[string]string{
		{"tls.key": dropLine(string(readFixture(t, "tls.key")), `"lastmodified"`)},
		{"config.sops.yaml": strings.Replace(string(readFixture(t, "config.sops.yaml")), "db.internal", "x", 1)},
	} {
		f := map[string]string{}
		for k, v := range files {
			f[k] = v
		}
		for k, v := range broken {
			f[k] = v
		}
		bad := newSecretStack(t, f, map[string]string{"tmpl_pw": "canary-tmpl-6b01f3\n"})
		if _, err := Load(context.Background(), bad.o); err != nil {
			outputs = append(outputs, "load error: "+err.Error())
		} else {
			t.Errorf("a broken sops file loads: %v", broken)
		}
	}

	// File names in the render dir.
	_ = filepath.WalkDir(s.render, func(path string, d fs.DirEntry, err error) error {
		outputs = append(outputs, "rendered name: "+path)
		return err
	})
	for _, out := range outputs {
		for _, c := range canaries {
			if strings.Contains(out, c) {
				t.Errorf("%s shows up in %s", c, out)
			}
		}
	}
}

func TestSecretsOfDisabledServicesAreNotRead(t *testing.T) {
	s := newSecretStack(t, map[string]string{
		"compose.yaml": `services:
  web:
    image: example/web:1.4
  debug:
    image: example/web:1.4
    profiles: [debug]
    env_file: debug.env.tmpl
    secrets: [tls]
secrets:
  tls:
    file: tls.key
`,
		"debug.env.tmpl": "X={{ secret \"not_on_this_host\" }}\n",
		"tls.key":        "fixture:tls.key",
	}, nil)
	s.o.AgeKeyFile = ""
	p := s.load(t)
	if _, err := os.Stat(s.render); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a disabled service's files were rendered: %v", err)
	}
	if len(p.Services) != 1 {
		t.Errorf("services %v", p.ServiceNames())
	}
}
