// Package config holds the host settings of `berth run`: which repository
// and ref to follow, where the stacks are in it, how often to look, and
// where the credentials are.
//
// A Config is built in layers, each overriding the one before: Default, the
// YAML file (Load), the BERTH_* environment (ApplyEnv) and the flags that
// were set (Flags.Resolve), then checked once by Validate. Secrets are never
// held as values: the Config names files, and ReadSecrets reads them when
// they are needed.
package config

import (
	"fmt"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Drift modes.
const (
	DriftCorrect = "correct" // put a drifted stack back to the commit
	DriftWarn    = "warn"    // only report drift
)

// DefaultBranch is followed when none of branch, tag and commit is set.
const DefaultBranch = "main"

// Config is the host settings of `berth run`.
type Config struct {
	// Repo is the Git remote. Required.
	Repo string `yaml:"repo"`
	// Exactly one of Branch, Tag and Commit is set.
	Branch string `yaml:"branch"`
	Tag    string `yaml:"tag"`
	Commit string `yaml:"commit"`
	// Path is the folder of stack folders in the repo, relative to its root.
	Path string `yaml:"path"`
	// Host selects the stacks meant for this machine; empty means the
	// machine's host name.
	Host string `yaml:"host"`
	// Env is the environment: compose.<env>.yaml and <env>.env apply.
	Env string `yaml:"env"`
	// DataDir holds the clone, the exported stacks and the state database.
	DataDir string `yaml:"data_dir"`
	// Listen is the status server's host:port; "" or "off" disables it.
	Listen string `yaml:"listen"`
	// Poll is a Go duration or a cron spec; see ParseSchedule.
	Poll  string `yaml:"poll"`
	Drift string `yaml:"drift"`
	// Shallow makes depth-1 clones and fetches.
	Shallow bool `yaml:"shallow"`
	// Settle is how long a started container must keep running.
	Settle Duration `yaml:"settle"`
	Git    Git      `yaml:"git"`
}

// Git is how to reach and trust the repository. Every secret is a file path.
type Git struct {
	Username       string `yaml:"username"`
	PasswordFile   string `yaml:"password_file"`
	TokenFile      string `yaml:"token_file"`
	SSHKeyFile     string `yaml:"ssh_key_file"`
	KnownHostsFile string `yaml:"known_hosts_file"`
	VerifyCommits  bool   `yaml:"verify_commits"`
	// TrustedKeysFile holds ASCII-armored OpenPGP public keys.
	TrustedKeysFile string `yaml:"trusted_keys_file"`
}

// Default is the configuration before any file, variable or flag.
func Default() Config {
	return Config{
		Branch:  DefaultBranch,
		Path:    "stacks",
		Host:    hostname(),
		DataDir: "/var/lib/berth",
		Listen:  "127.0.0.1:9300",
		Poll:    "1m",
		Drift:   DriftCorrect,
		Settle:  Duration{time.Second},
	}
}

// ListenAddr is the status server's address, or "" when it is disabled.
func (c Config) ListenAddr() string {
	if c.Listen == "off" {
		return ""
	}
	return c.Listen
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

// Duration is a time.Duration written as a Go duration string ("1s") in YAML.
type Duration struct{ time.Duration }

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (like 1s or 500ms)", n.Line, n.Value)
	}
	d.Duration = v
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
