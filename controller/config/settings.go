package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// setting is one key that the environment and the flags can set. The
// variable is BERTH_ and the flag name in capitals, so the two never drift
// apart.
type setting struct {
	key, flag, usage string
	// One of these points at the field.
	str func(*Config) *string
	bln func(*Config) *bool
	dur func(*Config) *Duration
	num func(*Config) *int
	// list is comma-separated in variables and flags.
	list func(*Config) *[]string
}

var settings = []setting{
	{key: "repo", flag: "repo", usage: "Git repository to follow (required)", str: func(c *Config) *string { return &c.Repo }},
	{key: "branch", flag: "branch", usage: "branch to follow (one of --branch, --tag, --commit)", str: func(c *Config) *string { return &c.Branch }},
	{key: "tag", flag: "tag", usage: "tag to follow", str: func(c *Config) *string { return &c.Tag }},
	{key: "commit", flag: "commit", usage: "commit to pin", str: func(c *Config) *string { return &c.Commit }},
	{key: "path", flag: "path", usage: "folder of stack folders in the repo", str: func(c *Config) *string { return &c.Path }},
	{key: "host", flag: "host", usage: "this host's name for x-berth host selection (default: the host name)", str: func(c *Config) *string { return &c.Host }},
	{key: "env", flag: "env", usage: "environment: compose.ENV.yaml and ENV.env apply", str: func(c *Config) *string { return &c.Env }},
	{key: "data_dir", flag: "data-dir", usage: "folder for the clone, the stacks and the state", str: func(c *Config) *string { return &c.DataDir }},
	{key: "secrets_dir", flag: "secrets-dir", usage: `folder of host secrets, one file per secret, for {{ secret "NAME" }} in env templates`, str: func(c *Config) *string { return &c.SecretsDir }},
	{key: "age_key_file", flag: "age-key-file", usage: "age identity file that decrypts the stacks' sops files (default: $SOPS_AGE_KEY_FILE)", str: func(c *Config) *string { return &c.AgeKeyFile }},
	{key: "listen", flag: "listen", usage: `address of the server for webhooks, /healthz and /metrics; "" or "off" disables it`, str: func(c *Config) *string { return &c.Listen }},
	{key: "poll", flag: "poll", usage: `poll schedule: a duration (1m) or cron spec ("*/5 * * * *", "@hourly")`, str: func(c *Config) *string { return &c.Poll }},
	{key: "drift", flag: "drift", usage: "on drift: correct or warn", str: func(c *Config) *string { return &c.Drift }},
	{key: "shallow", flag: "shallow", usage: "depth-1 clone and fetches", bln: func(c *Config) *bool { return &c.Shallow }},
	{key: "git.fetch_timeout", flag: "fetch-timeout", usage: "how long one clone or fetch may take before it is abandoned and retried", dur: func(c *Config) *Duration { return &c.Git.FetchTimeout }},
	{key: "settle", flag: "settle", usage: "stability window: how long a started container without a healthcheck must keep running, without a restart", dur: func(c *Config) *Duration { return &c.Settle }},
	{key: "load_timeout", flag: "load-timeout", usage: "how long one stack's load may take before the stack stalls alone", dur: func(c *Config) *Duration { return &c.LoadTimeout }},
	{key: "git.username", flag: "git-username", usage: "user for HTTP(S) basic auth", str: func(c *Config) *string { return &c.Git.Username }},
	{key: "git.password_file", flag: "git-password-file", usage: "file holding the HTTP(S) password", str: func(c *Config) *string { return &c.Git.PasswordFile }},
	{key: "git.token_file", flag: "git-token-file", usage: "file holding an HTTP(S) access token", str: func(c *Config) *string { return &c.Git.TokenFile }},
	{key: "git.ssh_key_file", flag: "git-ssh-key-file", usage: "SSH private key file", str: func(c *Config) *string { return &c.Git.SSHKeyFile }},
	{key: "git.known_hosts_file", flag: "git-known-hosts-file", usage: "known_hosts file the SSH server's key must be in", str: func(c *Config) *string { return &c.Git.KnownHostsFile }},
	{key: "git.verify_commits", flag: "verify-commits", usage: "deploy only commits signed by a trusted key", bln: func(c *Config) *bool { return &c.Git.VerifyCommits }},
	{key: "git.trusted_keys_file", flag: "trusted-keys-file", usage: "armored OpenPGP public keys trusted to sign commits", str: func(c *Config) *string { return &c.Git.TrustedKeysFile }},
	{key: "webhooks.github_secret_file", flag: "github-webhook-secret-file", usage: "file holding the GitHub webhook secret; turns on POST /hooks/github", str: func(c *Config) *string { return &c.Webhooks.GitHubSecretFile }},
	{key: "webhooks.gitea_secret_file", flag: "gitea-webhook-secret-file", usage: "file holding the Gitea/Forgejo webhook secret; turns on POST /hooks/gitea", str: func(c *Config) *string { return &c.Webhooks.GiteaSecretFile }},
	{key: "webhooks.gitlab_token_file", flag: "gitlab-webhook-token-file", usage: "file holding the GitLab webhook secret token; turns on POST /hooks/gitlab", str: func(c *Config) *string { return &c.Webhooks.GitLabTokenFile }},
	{key: "webhooks.bitbucket_secret_file", flag: "bitbucket-webhook-secret-file", usage: "file holding the Bitbucket webhook secret; turns on POST /hooks/bitbucket", str: func(c *Config) *string { return &c.Webhooks.BitbucketSecretFile }},
	{key: "webhooks.generic_secret_file", flag: "generic-webhook-secret-file", usage: "file holding the HMAC secret of POST /hooks/generic; turns it on", str: func(c *Config) *string { return &c.Webhooks.GenericSecretFile }},
	{key: "webhooks.max_concurrent", flag: "webhook-max-concurrent", usage: "deliveries whose bodies are read and checked at once; more get 503 with Retry-After (default 8)", num: func(c *Config) *int { return &c.Webhooks.MaxConcurrent }},
	{key: "notify.slack_url_file", flag: "notify-slack-url-file", usage: "file holding a Slack incoming webhook URL", str: func(c *Config) *string { return &c.Notify.SlackURLFile }},
	{key: "notify.discord_url_file", flag: "notify-discord-url-file", usage: "file holding a Discord webhook URL", str: func(c *Config) *string { return &c.Notify.DiscordURLFile }},
	{key: "notify.teams_url_file", flag: "notify-teams-url-file", usage: "file holding a Microsoft Teams incoming webhook (or Workflows) URL", str: func(c *Config) *string { return &c.Notify.TeamsURLFile }},
	{key: "notify.webhook_url", flag: "notify-webhook-url", usage: "URL that deploy events are POSTed to as signed JSON", str: func(c *Config) *string { return &c.Notify.WebhookURL }},
	{key: "notify.webhook_secret_file", flag: "notify-webhook-secret-file", usage: "file holding the HMAC secret that signs --notify-webhook-url's bodies", str: func(c *Config) *string { return &c.Notify.WebhookSecretFile }},
	{key: "notify.window", flag: "notify-window", usage: "each sink sends the same kind of event about the same stack and subject once within this window", dur: func(c *Config) *Duration { return &c.Notify.Window }},
	{key: "commit_status.provider", flag: "commit-status-provider", usage: "post deploy outcomes as commit statuses: github, gitlab or gitea", str: func(c *Config) *string { return &c.CommitStatus.Provider }},
	{key: "commit_status.token_file", flag: "commit-status-token-file", usage: "file holding the commit status API token", str: func(c *Config) *string { return &c.CommitStatus.TokenFile }},
	{key: "commit_status.url", flag: "commit-status-url", usage: "commit status API base URL, for self-hosted hosts", str: func(c *Config) *string { return &c.CommitStatus.URL }},
	{key: "commit_status.owner", flag: "commit-status-owner", usage: "repository owner for commit statuses (default: from --repo)", str: func(c *Config) *string { return &c.CommitStatus.Owner }},
	{key: "commit_status.repo", flag: "commit-status-repo", usage: "repository name for commit statuses (default: from --repo)", str: func(c *Config) *string { return &c.CommitStatus.Repo }},
	{key: "status_url", flag: "status-url", usage: "status page linked from commit statuses and notifications", str: func(c *Config) *string { return &c.StatusURL }},
	{key: "status_page", flag: "status-page", usage: "serve the read-only status page at GET / on the listen address", bln: func(c *Config) *bool { return &c.StatusPage }},
	{key: "policy.profile", flag: "policy-profile", usage: "host policy profile for the stacks: baseline, restricted or privileged", str: func(c *Config) *string { return &c.Policy.Profile }},
	{key: "control.socket", flag: "control-socket", usage: "control socket for status, history and actions (default: DATA_DIR/berth.sock)", str: func(c *Config) *string { return &c.Control.Socket }},
	{key: "control.group", flag: "control-group", usage: "group (name or gid) that may use the control socket besides root and berth's user", str: func(c *Config) *string { return &c.Control.Group }},
	{key: "allowed_hosts", flag: "allowed-hosts", usage: "comma-separated host names the listen server answers to, besides localhost, 127.0.0.1, ::1 and the listen address's host", list: func(c *Config) *[]string { return &c.AllowedHosts }},
	{key: "shared_secrets", flag: "shared-secrets", usage: `comma-separated patterns (path.Match) of the secrets at the top of the secrets dir that stacks may read: NAME for every stack, STACK/NAME for one; a stack reads its own in SECRETS_DIR/STACK/ (default: none)`, list: func(c *Config) *[]string { return &c.SharedSecrets }},
	{key: "pressure.interval", flag: "pressure-interval", usage: "time between readings of the host's disk, inodes, memory and load; 0 turns them off (default 30s)", dur: func(c *Config) *Duration { return &c.Pressure.Interval }},
	{key: "pressure.warning", flag: "pressure-warning", usage: "percentage of disk, inodes or memory in use that raises a warning (default 90)", num: func(c *Config) *int { return &c.Pressure.Warning }},
	{key: "pressure.critical", flag: "pressure-critical", usage: "percentage of disk, inodes or memory in use that raises a critical alert (default 95)", num: func(c *Config) *int { return &c.Pressure.Critical }},
}

func (s setting) env() string {
	return "BERTH_" + strings.ToUpper(strings.ReplaceAll(s.flag, "-", "_"))
}

func (s setting) isRef() bool { return s.key == "branch" || s.key == "tag" || s.key == "commit" }

// set parses v into the field.
func (s setting) set(c *Config, v string) error {
	switch {
	case s.bln != nil:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*s.bln(c) = b
	case s.dur != nil:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration (like 1s or 500ms)", v)
		}
		*s.dur(c) = Duration{d}
	case s.num != nil:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*s.num(c) = n
	case s.list != nil:
		var l []string
		for _, v := range strings.Split(v, ",") {
			if v = strings.TrimSpace(v); v != "" {
				l = append(l, v)
			}
		}
		*s.list(c) = l
	default:
		*s.str(c) = v
	}
	return nil
}

// assignment is a value for a setting from a named source (a variable or
// a flag).
type assignment struct {
	s      setting
	source string
	value  string
}

// apply sets one layer's values; a ref among them replaces the ref below.
func (c *Config) apply(as []assignment) error {
	set := func() error {
		var errs []error
		for _, a := range as {
			if err := a.s.set(c, a.value); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", a.source, err))
			}
		}
		return errors.Join(errs...)
	}
	for _, a := range as {
		if a.s.isRef() {
			return c.layerRef(set)
		}
	}
	return set()
}
