package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestLoadIntegrations(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "berth.yaml"), `
repo: https://git.example.com/infra/deploy.git
webhooks:
  github_secret_file: secrets/github
  gitea_secret_file: /etc/berth/gitea
  gitlab_token_file: secrets/gitlab
  bitbucket_secret_file: secrets/bitbucket
  generic_secret_file: secrets/generic
notify:
  slack_url_file: secrets/slack
  discord_url_file: secrets/discord
  teams_url_file: secrets/teams
  webhook_url: https://hooks.example.com/berth
  webhook_secret_file: secrets/notify
commit_status:
  provider: gitea
  token_file: secrets/status-token
  url: https://git.example.com
  owner: infra
  repo: deploy
status_url: https://status.example.com/
`)
	c, err := Load(filepath.Join(dir, "berth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := func(name string) string { return filepath.Join(dir, "secrets", name) }
	want := Webhooks{GitHubSecretFile: s("github"), GiteaSecretFile: "/etc/berth/gitea", GitLabTokenFile: s("gitlab"),
		BitbucketSecretFile: s("bitbucket"), GenericSecretFile: s("generic")}
	if c.Webhooks != want {
		t.Errorf("webhooks = %+v\nwant %+v", c.Webhooks, want)
	}
	wantN := Notify{SlackURLFile: s("slack"), DiscordURLFile: s("discord"), TeamsURLFile: s("teams"),
		WebhookURL: "https://hooks.example.com/berth", WebhookSecretFile: s("notify"), Window: Duration{10 * time.Minute}}
	if !reflect.DeepEqual(c.Notify, wantN) {
		t.Errorf("notify = %+v\nwant %+v", c.Notify, wantN)
	}
	wantCS := CommitStatus{Provider: "gitea", TokenFile: s("status-token"), URL: "https://git.example.com", Owner: "infra", Repo: "deploy"}
	if c.CommitStatus != wantCS || c.StatusURL != "https://status.example.com/" {
		t.Errorf("commit_status = %+v, status_url %q", c.CommitStatus, c.StatusURL)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"notify:\n  slack_url: https://hooks.slack.com/x\n", `line 2: unknown key "notify.slack_url"`},
		{"webhooks:\n  github_secret: x\n", `line 2: unknown key "webhooks.github_secret"`},
		{"commit_status:\n  token: x\n", `line 2: unknown key "commit_status.token"`},
	} {
		if _, err := Parse([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestValidateIntegrations(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	writeFile(t, secret, "s3cr3t\n")
	missing := filepath.Join(dir, "nope")
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"all webhooks", func(c *Config) {
			c.Webhooks = Webhooks{secret, secret, secret, secret, secret, 4}
		}, ""},
		{"webhook file missing", func(c *Config) { c.Webhooks.GiteaSecretFile = missing }, "webhooks.gitea_secret_file: open " + missing},
		{"webhooks need listen", func(c *Config) { c.Webhooks.GitHubSecretFile, c.Listen = secret, "off" },
			"webhooks.github_secret_file: set, but listen is off"},
		{"notify files", func(c *Config) {
			c.Notify.SlackURLFile, c.Notify.DiscordURLFile, c.Notify.TeamsURLFile = secret, secret, secret
		}, ""},
		{"slack file missing", func(c *Config) { c.Notify.SlackURLFile = missing }, "notify.slack_url_file: open " + missing},
		{"notify webhook", func(c *Config) { c.Notify.WebhookURL, c.Notify.WebhookSecretFile = "https://h.example.com/x", secret }, ""},
		{"notify webhook unsigned", func(c *Config) { c.Notify.WebhookURL = "https://h.example.com/x" },
			"notify.webhook_url is set but notify.webhook_secret_file is not"},
		{"notify secret without url", func(c *Config) { c.Notify.WebhookSecretFile = secret }, "notify.webhook_secret_file is set but notify.webhook_url is not"},
		{"notify webhook bad url", func(c *Config) { c.Notify.WebhookURL, c.Notify.WebhookSecretFile = "hooks.example.com", secret },
			`notify.webhook_url: "hooks.example.com" is not an http(s) URL`},
		{"notify webhook credentials", func(c *Config) {
			c.Notify.WebhookURL, c.Notify.WebhookSecretFile = "https://u:hunter2@h.example.com/x", secret
		}, `notify.webhook_url: "https://h.example.com/x" holds credentials`},
		{"status url", func(c *Config) { c.StatusURL = "ftp://x" }, `status_url: "ftp://x" is not an http(s) URL`},
		{"github status", func(c *Config) { c.CommitStatus = CommitStatus{Provider: "github", TokenFile: secret} }, ""},
		{"gitlab subgroup", func(c *Config) {
			c.Repo = "https://gitlab.com/group/sub/deploy.git"
			c.CommitStatus = CommitStatus{Provider: "gitlab", TokenFile: secret}
		}, ""},
		{"github nested path", func(c *Config) {
			c.Repo = "https://git.example.com/a/b/deploy.git"
			c.CommitStatus = CommitStatus{Provider: "github", TokenFile: secret}
		}, "only gitlab has subgroups; set commit_status.owner and commit_status.repo"},
		{"unknown provider", func(c *Config) { c.CommitStatus = CommitStatus{Provider: "bitbucket", TokenFile: secret} },
			`commit_status.provider: "bitbucket" is not "github", "gitlab" or "gitea"`},
		{"provider needs token", func(c *Config) { c.CommitStatus.Provider = "github" },
			`commit_status.provider is "github" but commit_status.token_file is not set`},
		{"token file missing", func(c *Config) { c.CommitStatus = CommitStatus{Provider: "github", TokenFile: missing} },
			"commit_status.token_file: open " + missing},
		{"gitea needs url", func(c *Config) { c.CommitStatus = CommitStatus{Provider: "gitea", TokenFile: secret} },
			"commit_status.url: required for gitea"},
		{"gitea", func(c *Config) {
			c.CommitStatus = CommitStatus{Provider: "gitea", TokenFile: secret, URL: "https://git.example.com"}
		}, ""},
		{"owner without repo", func(c *Config) { c.CommitStatus = CommitStatus{Provider: "github", TokenFile: secret, Owner: "o"} },
			"commit_status.owner and commit_status.repo: set both or neither"},
		{"no owner from a path", func(c *Config) {
			c.Repo = "/srv/git/infra.git"
			c.CommitStatus = CommitStatus{Provider: "github", TokenFile: secret}
		}, `commit_status: repo URL "/srv/git/infra.git" is not on a Git host`},
		{"path with owner given", func(c *Config) {
			c.Repo = "/srv/git/infra.git"
			c.CommitStatus = CommitStatus{Provider: "github", TokenFile: secret, Owner: "o", Repo: "r"}
		}, ""},
		{"settings without provider", func(c *Config) { c.CommitStatus.TokenFile = secret },
			"commit_status: token_file, url, owner or repo is set but commit_status.provider is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Repo = "https://git.example.com/infra/deploy.git"
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cr3t")) {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestCommitStatusRepo(t *testing.T) {
	c := Default()
	c.Repo = "git@github.com:infra/deploy.git"
	if o, r, err := c.CommitStatusRepo(); err != nil || o != "infra" || r != "deploy" {
		t.Fatalf("%q %q %v", o, r, err)
	}
	c.CommitStatus.Owner, c.CommitStatus.Repo = "ops", "other"
	if o, r, err := c.CommitStatusRepo(); err != nil || o != "ops" || r != "other" {
		t.Fatalf("%q %q %v", o, r, err)
	}
}

func TestIntegrationsFromEnvAndFlags(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	writeFile(t, secret, "x\n")
	env := map[string]string{
		"BERTH_REPO":                       "https://github.com/infra/deploy.git",
		"BERTH_GITHUB_WEBHOOK_SECRET_FILE": "rel-secret",
		"BERTH_COMMIT_STATUS_PROVIDER":     "github",
		"BERTH_COMMIT_STATUS_TOKEN_FILE":   secret,
		"BERTH_STATUS_URL":                 "https://status.example.com/",
	}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f := BindFlags(fs)
	if err := fs.Parse([]string{"--github-webhook-secret-file", secret, "--notify-teams-url-file", secret,
		"--commit-status-url", "https://ghe.example.com/api/v3"}); err != nil {
		t.Fatal(err)
	}
	c, err := f.Resolve(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Webhooks.GitHubSecretFile != secret || c.Notify.TeamsURLFile != secret || c.CommitStatus.Provider != "github" ||
		c.CommitStatus.URL != "https://ghe.example.com/api/v3" || c.StatusURL != "https://status.example.com/" {
		t.Fatalf("config = %+v", c)
	}
	// A relative path from the environment is taken from the working dir.
	delete(env, "BERTH_COMMIT_STATUS_PROVIDER")
	delete(env, "BERTH_COMMIT_STATUS_TOKEN_FILE")
	fs = pflag.NewFlagSet("run", pflag.ContinueOnError)
	f = BindFlags(fs)
	_ = fs.Parse(nil)
	if _, err := f.Resolve(func(k string) string { return env[k] }); err == nil ||
		!strings.Contains(err.Error(), "webhooks.github_secret_file: open /") {
		t.Fatalf("error = %v", err)
	}
}

func TestReadIntegrationSecrets(t *testing.T) {
	dir := t.TempDir()
	c := Default()
	files := map[*string]string{
		&c.Webhooks.GitHubSecretFile: "gh", &c.Webhooks.GiteaSecretFile: "gt", &c.Webhooks.GitLabTokenFile: "gl",
		&c.Webhooks.BitbucketSecretFile: "bb", &c.Webhooks.GenericSecretFile: "gen",
		&c.Notify.SlackURLFile: "slack", &c.Notify.DiscordURLFile: "discord", &c.Notify.TeamsURLFile: "teams",
		&c.Notify.WebhookSecretFile: "nw", &c.CommitStatus.TokenFile: "cs",
	}
	for p, name := range files {
		*p = filepath.Join(dir, name)
		writeFile(t, *p, canary+"-"+name+"\n")
	}
	s, err := c.ReadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	got := []string{s.GitHubWebhookSecret, s.GiteaWebhookSecret, s.GitLabWebhookToken, s.BitbucketWebhookSecret,
		s.GenericWebhookSecret, s.Sinks[0].URL, s.Sinks[1].URL, s.Sinks[2].URL, s.Sinks[3].WebhookSecret, s.CommitStatusToken}
	want := []string{"gh", "gt", "gl", "bb", "gen", "slack", "discord", "teams", "nw", "cs"}
	for i := range want {
		want[i] = canary + "-" + want[i]
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("secrets = %q", got)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "secrets", s)
	js, _ := json.Marshal(s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%#v", s), logged.String(), string(js)} {
		if strings.Contains(out, canary) || !strings.Contains(out, "commit_status_token") || !strings.Contains(out, "webhook_secret") {
			t.Errorf("printed secrets: %s", out)
		}
	}
	writeFile(t, c.Notify.SlackURLFile, "https://a\nhttps://b\n")
	if _, err := c.ReadSecrets(); err == nil || !strings.Contains(err.Error(), "notify.slack_url_file: ") || strings.Contains(err.Error(), "https://a") {
		t.Fatalf("two-line URL file: %v", err)
	}
}
