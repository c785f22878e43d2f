package config

import "strings"

// FileSetting is a setting that names a file berth reads a credential, a
// key or a secret from: whoever can write the file decides what berth
// trusts.
type FileSetting struct{ Key, Path string }

// Files lists the file settings that are set, in a stable order. It is the
// one list of them: validation, the ownership checks at start and the host
// policy's refusals all read it.
func (c Config) Files() []FileSetting {
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
		{"commit_status.token_file", c.CommitStatus.TokenFile},
	} {
		if f.Path != "" {
			out = append(out, f)
		}
	}
	for _, s := range c.Notify.AllSinks() {
		out = append(out, s.files()...)
	}
	return out
}

// filesUnder lists the file settings that are set whose keys start with
// one of the prefixes.
func (c Config) filesUnder(prefixes ...string) []FileSetting {
	var out []FileSetting
	for _, f := range c.Files() {
		for _, p := range prefixes {
			if strings.HasPrefix(f.Key, p) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}
