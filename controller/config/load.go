package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// Load reads the YAML file at path over Default. Relative paths in the file
// (data_dir and the git files) are taken from the file's folder, so the file
// means the same whatever the working directory. Errors start with the path.
// Load does not validate.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	c.absPaths(filepath.Dir(path))
	return c, nil
}

// Parse reads YAML over Default. Unknown keys are errors that name the key
// and its line.
func Parse(data []byte) (Config, error) {
	c := Default()
	err := c.layerRef(func() error {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		err := dec.Decode(&c)
		if errors.Is(err, io.EOF) { // an empty file
			return nil
		}
		return yamlError(err)
	})
	if err != nil {
		return Config{}, err
	}
	c.fillHost()
	return c, nil
}

// layerRef applies one layer of settings (file, environment or flags) and
// makes branch, tag and commit one setting: a layer that sets any of them
// replaces the ref of the layers below, so `--tag v2` overrides the file's
// `branch: main`. Two of them set in one layer stay set, for Validate.
func (c *Config) layerRef(apply func() error) error {
	branch, tag, commit := c.Branch, c.Tag, c.Commit
	c.Branch, c.Tag, c.Commit = "", "", ""
	err := apply()
	if c.Branch == "" && c.Tag == "" && c.Commit == "" {
		c.Branch, c.Tag, c.Commit = branch, tag, commit
	}
	return err
}

// fillHost applies the documented meaning of an empty host.
func (c *Config) fillHost() {
	if c.Host == "" {
		c.Host = hostname()
	}
}

// absPaths makes the relative local paths absolute against base.
func (c *Config) absPaths(base string) {
	for _, p := range []*string{&c.DataDir, &c.SecretsDir, &c.AgeKeyFile, &c.Git.PasswordFile, &c.Git.TokenFile,
		&c.Git.SSHKeyFile, &c.Git.KnownHostsFile, &c.Git.TrustedKeysFile,
		&c.Webhooks.GitHubSecretFile, &c.Webhooks.GiteaSecretFile, &c.Webhooks.GitLabTokenFile,
		&c.Webhooks.BitbucketSecretFile, &c.Webhooks.GenericSecretFile,
		&c.Notify.SlackURLFile, &c.Notify.DiscordURLFile, &c.Notify.TeamsURLFile, &c.Notify.WebhookSecretFile,
		&c.CommitStatus.TokenFile, &c.Control.Socket} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	for i := range c.Notify.Sinks {
		s := &c.Notify.Sinks[i]
		for _, p := range []*string{&s.SlackURLFile, &s.DiscordURLFile, &s.TeamsURLFile, &s.WebhookSecretFile} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(base, *p)
			}
		}
	}
}

// unknownField matches yaml.v3's strict-mode message.
var unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S*\.(\w+)$`)

// yamlError rewrites yaml.v3's unknown-field errors to name the key by its
// path: `line 7: unknown key "git.tokenfile"`.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		if m := unknownField.FindStringSubmatch(msg); m != nil {
			prefix := map[string]string{"Git": "git.", "Webhooks": "webhooks.", "Notify": "notify.",
				"CommitStatus": "commit_status.", "Settings": "policy.", "HostPath": "policy.host_paths[].",
				"StackSettings": "policy.stacks.*.", "Exception": "policy.exceptions[].", "Control": "control.",
				"NotifySink": "notify.sinks[]."}[m[3]]
			msg = fmt.Sprintf("line %s: unknown key %q", m[1], prefix+m[2])
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}
