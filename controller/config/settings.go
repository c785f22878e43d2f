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
	{key: "listen", flag: "listen", usage: `status server address; "" or "off" disables it`, str: func(c *Config) *string { return &c.Listen }},
	{key: "poll", flag: "poll", usage: `poll schedule: a duration (1m) or cron spec ("*/5 * * * *", "@hourly")`, str: func(c *Config) *string { return &c.Poll }},
	{key: "drift", flag: "drift", usage: "on drift: correct or warn", str: func(c *Config) *string { return &c.Drift }},
	{key: "shallow", flag: "shallow", usage: "depth-1 clone and fetches", bln: func(c *Config) *bool { return &c.Shallow }},
	{key: "settle", flag: "settle", usage: "how long a started container must keep running", dur: func(c *Config) *Duration { return &c.Settle }},
	{key: "git.username", flag: "git-username", usage: "user for HTTP(S) basic auth", str: func(c *Config) *string { return &c.Git.Username }},
	{key: "git.password_file", flag: "git-password-file", usage: "file holding the HTTP(S) password", str: func(c *Config) *string { return &c.Git.PasswordFile }},
	{key: "git.token_file", flag: "git-token-file", usage: "file holding an HTTP(S) access token", str: func(c *Config) *string { return &c.Git.TokenFile }},
	{key: "git.ssh_key_file", flag: "git-ssh-key-file", usage: "SSH private key file", str: func(c *Config) *string { return &c.Git.SSHKeyFile }},
	{key: "git.known_hosts_file", flag: "git-known-hosts-file", usage: "known_hosts file the SSH server's key must be in", str: func(c *Config) *string { return &c.Git.KnownHostsFile }},
	{key: "git.verify_commits", flag: "verify-commits", usage: "deploy only commits signed by a trusted key", bln: func(c *Config) *bool { return &c.Git.VerifyCommits }},
	{key: "git.trusted_keys_file", flag: "trusted-keys-file", usage: "armored OpenPGP public keys trusted to sign commits", str: func(c *Config) *string { return &c.Git.TrustedKeysFile }},
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
