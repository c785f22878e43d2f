package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestResolvePrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "berth.yaml")
	writeFile(t, file, "repo: https://file.example/infra.git\nbranch: release\npoll: 5m\nshallow: true\nsettle: 3s\ndata_dir: data\n")
	other := filepath.Join(dir, "other.yaml")
	writeFile(t, other, "repo: https://other.example/infra.git\n")
	base := map[string]string{"BERTH_CONFIG": file}

	for _, tc := range []struct {
		name  string
		env   map[string]string
		args  []string
		check func(c Config) bool
		err   string
	}{
		{name: "file over default", check: func(c Config) bool {
			return c.Repo == "https://file.example/infra.git" && c.Branch == "release" && c.Poll == "5m" &&
				c.Shallow && c.Settle.Duration == 3*time.Second && c.Drift == "correct"
		}},
		{name: "file paths from the file's folder", check: func(c Config) bool { return c.DataDir == filepath.Join(dir, "data") }},
		{name: "env over file", env: map[string]string{"BERTH_POLL": "30s", "BERTH_SHALLOW": "false", "BERTH_SETTLE": "0s"},
			check: func(c Config) bool { return c.Poll == "30s" && !c.Shallow && c.Settle.Duration == 0 }},
		{name: "flag over env", env: map[string]string{"BERTH_POLL": "30s", "BERTH_DRIFT": "warn"}, args: []string{"--poll", "@hourly"},
			check: func(c Config) bool { return c.Poll == "@hourly" && c.Drift == "warn" }},
		{name: "flag false over file true", args: []string{"--shallow=false"}, check: func(c Config) bool { return !c.Shallow }},
		{name: "unset flag keeps file", args: []string{"--drift", "warn"}, check: func(c Config) bool { return c.Poll == "5m" }},
		{name: "--config over BERTH_CONFIG", args: []string{"--config", other},
			check: func(c Config) bool { return c.Repo == "https://other.example/infra.git" && c.Branch == "main" }},
		{name: "env tag replaces file branch", env: map[string]string{"BERTH_TAG": "v2"},
			check: func(c Config) bool { return c.Tag == "v2" && c.Branch == "" }},
		{name: "flag commit replaces env tag", env: map[string]string{"BERTH_TAG": "v2"}, args: []string{"--commit", "0123abcd"},
			check: func(c Config) bool { return c.Commit == "0123abcd" && c.Tag == "" && c.Branch == "" }},
		{name: "two refs in one layer", args: []string{"--tag", "v2", "--branch", "dev"}, err: `branch "dev" and tag "v2" are both set`},
		{name: "env paths from the working dir", env: map[string]string{"BERTH_DATA_DIR": "rel"},
			check: func(c Config) bool { return filepath.IsAbs(c.DataDir) && filepath.Base(c.DataDir) == "rel" }},
		{name: "bad env bool", env: map[string]string{"BERTH_SHALLOW": "maybe"}, err: `BERTH_SHALLOW: "maybe" is not true or false`},
		{name: "bad env duration", env: map[string]string{"BERTH_SETTLE": "1 sec"}, err: `BERTH_SETTLE: "1 sec" is not a duration`},
		{name: "env and flag numbers", env: map[string]string{"BERTH_WEBHOOK_MAX_CONCURRENT": "4"},
			check: func(c Config) bool { return c.Webhooks.MaxConcurrent == 4 }},
		{name: "flag number over env", env: map[string]string{"BERTH_WEBHOOK_MAX_CONCURRENT": "4"}, args: []string{"--webhook-max-concurrent", "16"},
			check: func(c Config) bool { return c.Webhooks.MaxConcurrent == 16 }},
		{name: "bad env number", env: map[string]string{"BERTH_WEBHOOK_MAX_CONCURRENT": "many"}, err: `BERTH_WEBHOOK_MAX_CONCURRENT: "many" is not a whole number`},
		{name: "bad flag", args: []string{"--poll", "100ms"}, err: `poll: "100ms" is under the 1s minimum`},
		{name: "missing file", args: []string{"--config", filepath.Join(dir, "nope.yaml")}, err: "nope.yaml: no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
			f := BindFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			c, err := f.Resolve(func(k string) string { return env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("unexpected config: %+v", c)
			}
		})
	}
}

func TestResolveWithoutFile(t *testing.T) {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f := BindFlags(fs)
	if err := fs.Parse([]string{"--repo", "https://git.example.com/infra.git", "--verify-commits"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.Resolve(func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "git.verify_commits is on but git.trusted_keys_file is not set") {
		t.Fatalf("error = %v", err)
	}
}

// TestFlagsAndVariables pins the names: they are the interface of berth run,
// and the table in ApplyEnv's doc comment lists them.
func TestFlagsAndVariables(t *testing.T) {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	BindFlags(fs)
	var flags []string
	fs.VisitAll(func(f *pflag.Flag) { flags = append(flags, f.Name) })
	wantFlags := []string{"age-key-file", "allowed-hosts", "bitbucket-webhook-secret-file", "branch", "commit", "commit-status-owner",
		"commit-status-provider", "commit-status-repo", "commit-status-token-file", "commit-status-url", "config",
		"control-group", "control-socket", "data-dir", "drift", "env", "fetch-timeout", "generic-webhook-secret-file", "git-known-hosts-file", "git-password-file",
		"git-ssh-key-file", "git-token-file", "git-username", "gitea-webhook-secret-file", "github-webhook-secret-file",
		"gitlab-webhook-token-file", "host", "listen", "load-timeout", "notify-discord-url-file", "notify-slack-url-file",
		"notify-teams-url-file", "notify-webhook-secret-file", "notify-webhook-url", "notify-window", "path", "policy-profile", "poll",
		"pressure-critical", "pressure-interval", "pressure-warning", "repo", "secrets-dir",
		"settle", "shallow", "shared-secrets", "status-page", "status-url", "tag", "trusted-keys-file", "verify-commits", "webhook-max-concurrent"}
	if !reflect.DeepEqual(flags, wantFlags) {
		t.Errorf("flags = %q\nwant %q", flags, wantFlags)
	}
	var vars []string
	for _, s := range settings {
		vars = append(vars, s.env())
	}
	wantVars := []string{"BERTH_REPO", "BERTH_BRANCH", "BERTH_TAG", "BERTH_COMMIT", "BERTH_PATH", "BERTH_HOST",
		"BERTH_ENV", "BERTH_DATA_DIR", "BERTH_SECRETS_DIR", "BERTH_AGE_KEY_FILE", "BERTH_LISTEN", "BERTH_POLL", "BERTH_DRIFT", "BERTH_SHALLOW", "BERTH_FETCH_TIMEOUT", "BERTH_SETTLE",
		"BERTH_LOAD_TIMEOUT",
		"BERTH_GIT_USERNAME", "BERTH_GIT_PASSWORD_FILE", "BERTH_GIT_TOKEN_FILE", "BERTH_GIT_SSH_KEY_FILE",
		"BERTH_GIT_KNOWN_HOSTS_FILE", "BERTH_VERIFY_COMMITS", "BERTH_TRUSTED_KEYS_FILE",
		"BERTH_GITHUB_WEBHOOK_SECRET_FILE", "BERTH_GITEA_WEBHOOK_SECRET_FILE", "BERTH_GITLAB_WEBHOOK_TOKEN_FILE",
		"BERTH_BITBUCKET_WEBHOOK_SECRET_FILE", "BERTH_GENERIC_WEBHOOK_SECRET_FILE", "BERTH_WEBHOOK_MAX_CONCURRENT", "BERTH_NOTIFY_SLACK_URL_FILE",
		"BERTH_NOTIFY_DISCORD_URL_FILE", "BERTH_NOTIFY_TEAMS_URL_FILE", "BERTH_NOTIFY_WEBHOOK_URL",
		"BERTH_NOTIFY_WEBHOOK_SECRET_FILE", "BERTH_NOTIFY_WINDOW", "BERTH_COMMIT_STATUS_PROVIDER", "BERTH_COMMIT_STATUS_TOKEN_FILE",
		"BERTH_COMMIT_STATUS_URL", "BERTH_COMMIT_STATUS_OWNER", "BERTH_COMMIT_STATUS_REPO", "BERTH_STATUS_URL", "BERTH_STATUS_PAGE",
		"BERTH_POLICY_PROFILE",
		"BERTH_CONTROL_SOCKET", "BERTH_CONTROL_GROUP", "BERTH_ALLOWED_HOSTS",
		"BERTH_SHARED_SECRETS", "BERTH_PRESSURE_INTERVAL", "BERTH_PRESSURE_WARNING", "BERTH_PRESSURE_CRITICAL"}
	if !reflect.DeepEqual(vars, wantVars) {
		t.Errorf("variables = %q\nwant %q", vars, wantVars)
	}
}

// The age key file comes from a flag, BERTH_AGE_KEY_FILE or the config
// file, and only when none sets it from SOPS_AGE_KEY_FILE, as sops reads it.
func TestAgeKeyFileAndSecretsDir(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"flag.key", "berth.key", "sops.key", "file.key"} {
		writeFile(t, filepath.Join(dir, f), "# key\n")
	}
	withFile := filepath.Join(dir, "with.yaml")
	writeFile(t, withFile, "repo: https://git.example.com/infra.git\nage_key_file: file.key\nsecrets_dir: s\n")
	without := filepath.Join(dir, "without.yaml")
	writeFile(t, without, "repo: https://git.example.com/infra.git\n")
	for _, tc := range []struct {
		name             string
		file             string
		env              map[string]string
		args             []string
		wantKey, wantDir string
	}{
		{"defaults", without, nil, nil, "", "/etc/berth/secrets"},
		{"sops variable", without, map[string]string{"SOPS_AGE_KEY_FILE": filepath.Join(dir, "sops.key")}, nil, "sops.key", "/etc/berth/secrets"},
		{"file over sops variable", withFile, map[string]string{"SOPS_AGE_KEY_FILE": filepath.Join(dir, "sops.key")}, nil, "file.key", filepath.Join(dir, "s")},
		{"berth variable", without, map[string]string{"BERTH_AGE_KEY_FILE": filepath.Join(dir, "berth.key"), "SOPS_AGE_KEY_FILE": filepath.Join(dir, "sops.key"), "BERTH_SECRETS_DIR": "/run/secrets-b"}, nil, "berth.key", "/run/secrets-b"},
		{"flags", withFile, map[string]string{"BERTH_AGE_KEY_FILE": filepath.Join(dir, "berth.key")}, []string{"--age-key-file", filepath.Join(dir, "flag.key"), "--secrets-dir", "/srv/secrets"}, "flag.key", "/srv/secrets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
			f := BindFlags(fs)
			if err := fs.Parse(append([]string{"--config", tc.file}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			c, err := f.Resolve(func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(c.AgeKeyFile) != tc.wantKey && !(tc.wantKey == "" && c.AgeKeyFile == "") {
				t.Errorf("age_key_file = %q, want %s", c.AgeKeyFile, tc.wantKey)
			}
			if c.SecretsDir != tc.wantDir {
				t.Errorf("secrets_dir = %q, want %s", c.SecretsDir, tc.wantDir)
			}
		})
	}
}

func TestSecretSettingsValidate(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	writeFile(t, notDir, "x")
	c := Default()
	c.Repo = "https://git.example.com/infra.git"
	c.SecretsDir = notDir
	c.AgeKeyFile = filepath.Join(dir, "missing.key")
	err := c.Validate()
	for _, want := range []string{`secrets_dir: "` + notDir + `" is not a directory`, "age_key_file: open " + c.AgeKeyFile} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	c.SecretsDir = filepath.Join(dir, "not-yet")
	c.AgeKeyFile = ""
	if err := c.Validate(); err != nil {
		t.Errorf("a secrets dir that does not exist yet: %v", err)
	}
	if got := c.RenderDir("shop"); got != "/var/lib/berth/rendered/shop" {
		t.Errorf("RenderDir = %s", got)
	}
}
