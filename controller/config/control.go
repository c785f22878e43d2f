package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// maxSocketPath is the longest path a Unix socket binds on Linux.
const maxSocketPath = 107

// controlProblems checks the control socket's settings and the allowed
// host names.
func (c *Config) controlProblems() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if s := c.ControlSocket(); !filepath.IsAbs(s) {
		add("control.socket: %q is not an absolute path", s)
	} else if len(s) > maxSocketPath {
		add("control.socket: %q is %d bytes long; a Unix socket's path may be %d", s, len(s), maxSocketPath)
	}
	if _, err := c.ControlGID(); err != nil {
		errs = append(errs, err)
	}
	for _, h := range c.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ \t*") {
			add("allowed_hosts: %q is not a host name (like berth.example.com, without scheme, path or wildcard)", h)
		}
	}
	return errs
}

// FileSetting is a setting that names a file berth reads.
type FileSetting struct{ Key, Path string }

// TrustedFiles are the files berth reads credentials and keys from that
// are set: whoever can write one decides what berth trusts.
func (c Config) TrustedFiles() []FileSetting {
	var out []FileSetting
	for _, f := range []FileSetting{
		{"age_key_file", c.AgeKeyFile},
		{"git.password_file", c.Git.PasswordFile},
		{"git.token_file", c.Git.TokenFile},
		{"git.ssh_key_file", c.Git.SSHKeyFile},
		{"git.known_hosts_file", c.Git.KnownHostsFile},
		{"git.trusted_keys_file", c.Git.TrustedKeysFile},
		{"webhooks.github_secret_file", c.Webhooks.GitHubSecretFile},
		{"webhooks.gitea_secret_file", c.Webhooks.GiteaSecretFile},
		{"webhooks.gitlab_token_file", c.Webhooks.GitLabTokenFile},
		{"webhooks.bitbucket_secret_file", c.Webhooks.BitbucketSecretFile},
		{"webhooks.generic_secret_file", c.Webhooks.GenericSecretFile},
		{"notify.slack_url_file", c.Notify.SlackURLFile},
		{"notify.discord_url_file", c.Notify.DiscordURLFile},
		{"notify.teams_url_file", c.Notify.TeamsURLFile},
		{"notify.webhook_secret_file", c.Notify.WebhookSecretFile},
		{"commit_status.token_file", c.CommitStatus.TokenFile},
	} {
		if f.Path != "" {
			out = append(out, f)
		}
	}
	return out
}
