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
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/policy"
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
	// SecretsDir holds the host's secrets, one file per secret, for
	// {{ secret "NAME" }} in env templates. It need not exist when no
	// template asks for a secret.
	SecretsDir string `yaml:"secrets_dir"`
	// AgeKeyFile holds the age identities that decrypt the stacks' sops
	// files; when no layer sets it, SOPS_AGE_KEY_FILE is used, as by sops.
	AgeKeyFile string `yaml:"age_key_file"`
	// Listen is the host:port of the server for webhooks, health and
	// metrics; "" or "off" disables it.
	Listen string `yaml:"listen"`
	// Poll is a Go duration or a cron spec; see ParseSchedule.
	Poll  string `yaml:"poll"`
	Drift string `yaml:"drift"`
	// Shallow makes depth-1 clones and fetches.
	Shallow bool `yaml:"shallow"`
	// Settle is how long a started container must keep running.
	Settle Duration `yaml:"settle"`
	// LoadTimeout is how long one stack's load may take: a stack whose
	// load takes longer stalls alone, and the others go on.
	LoadTimeout Duration `yaml:"load_timeout"`
	Git         Git      `yaml:"git"`
	// Webhooks turn on the push webhooks of the listen server, one
	// provider per secret.
	Webhooks Webhooks `yaml:"webhooks"`
	// Notify is where deploy events and alerts are sent (notify.go).
	Notify Notify `yaml:"notify"`
	// CommitStatus posts each deploy's outcome on its commit.
	CommitStatus CommitStatus `yaml:"commit_status"`
	// StatusURL links to a status page from commit statuses and
	// notifications.
	StatusURL string `yaml:"status_url"`
	// StatusPage serves the read-only status page at GET / on the listen
	// address (default on).
	StatusPage bool `yaml:"status_page"`
	// Policy is what a commit may ask of this host: the profile, the host
	// paths granted to stacks and the accepted exceptions. It is never
	// read from the repository.
	Policy policy.Settings `yaml:"policy"`
	// Control is the control socket: status, history and the actions.
	Control Control `yaml:"control"`
	// AllowedHosts are the host names the listen server answers to, on
	// top of the loopback names and the listen address's host.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// SharedSecrets are path.Match patterns of the host secrets at the top
	// of SecretsDir that stacks may read: NAME for every stack, STACK/NAME
	// for one. By default none: a stack reads its own in SecretsDir/<stack>/.
	SharedSecrets []string `yaml:"shared_secrets"`
	// Pressure is the host pressure watch.
	Pressure Pressure `yaml:"pressure"`
	// Windows are the deploy windows of every stack: outside them a new
	// commit waits (windows.go).
	Windows []Window `yaml:"windows"`
}

// Control places the control socket and says which group may use it
// besides root and berth's user.
type Control struct {
	// Socket is the socket's path; default DATA_DIR/berth.sock.
	Socket string `yaml:"socket"`
	// Group is a group name or gid; empty means none (mode 0600).
	Group string `yaml:"group"`
}

// ControlSocket is the control socket's path.
func (c Config) ControlSocket() string {
	if c.Control.Socket != "" {
		return c.Control.Socket
	}
	return filepath.Join(c.DataDir, "berth.sock")
}

// ControlGID is the control group's gid, or -1 when none is set.
func (c Config) ControlGID() (int, error) {
	g := c.Control.Group
	if g == "" {
		return -1, nil
	}
	if n, err := strconv.Atoi(g); err == nil && n >= 0 {
		return n, nil
	}
	grp, err := user.LookupGroup(g)
	if err != nil {
		return -1, fmt.Errorf("control.group: no group %q on this host", g)
	}
	return strconv.Atoi(grp.Gid)
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
	// FetchTimeout bounds one clone or fetch: a remote that stops answering
	// must not hold the loop (drift correction, status) for ever.
	FetchTimeout Duration `yaml:"fetch_timeout"`
}

// Webhooks name the files holding each provider's webhook secret; a
// provider is on when its file is set.
type Webhooks struct {
	GitHubSecretFile    string `yaml:"github_secret_file"`
	GiteaSecretFile     string `yaml:"gitea_secret_file"` // Gitea and Forgejo
	GitLabTokenFile     string `yaml:"gitlab_token_file"`
	BitbucketSecretFile string `yaml:"bitbucket_secret_file"`
	GenericSecretFile   string `yaml:"generic_secret_file"`
	// MaxConcurrent bounds the deliveries whose bodies are read at once;
	// 0 means the webhook package's default (8).
	MaxConcurrent int `yaml:"max_concurrent"`
}

// Commit status providers.
const (
	ProviderGitHub = "github"
	ProviderGitLab = "gitlab"
	ProviderGitea  = "gitea" // Forgejo too
)

// CommitStatus says where commit statuses go. Owner and Repo default to
// the ones in the repo URL (see CommitStatusRepo).
type CommitStatus struct {
	Provider  string `yaml:"provider"`
	TokenFile string `yaml:"token_file"`
	// URL is the API's base URL, for self-hosted hosts.
	URL   string `yaml:"url"`
	Owner string `yaml:"owner"`
	Repo  string `yaml:"repo"`
}

// DefaultSecretsDir is where the host's secrets are unless set otherwise.
const DefaultSecretsDir = "/etc/berth/secrets"

// EnvSopsAgeKeyFile is the sops CLI's variable for the age key file.
const EnvSopsAgeKeyFile = "SOPS_AGE_KEY_FILE"

// Default is the configuration before any file, variable or flag.
func Default() Config {
	return Config{
		Branch:      DefaultBranch,
		Path:        "stacks",
		Host:        hostname(),
		DataDir:     "/var/lib/berth",
		SecretsDir:  DefaultSecretsDir,
		Listen:      "127.0.0.1:9300",
		Poll:        "1m",
		Drift:       DriftCorrect,
		Settle:      Duration{10 * time.Second},
		Git:         Git{FetchTimeout: Duration{2 * time.Minute}},
		LoadTimeout: Duration{30 * time.Second},
		Notify:      Notify{Window: Duration{notify.DefaultWindow}},
		Pressure:    DefaultPressure(),
		StatusPage:  true,
	}
}

// RenderDir is where a stack's decrypted files go: the containers mount
// them from there, so it lives as long as the data dir.
func (c Config) RenderDir(stack string) string {
	return filepath.Join(c.DataDir, "rendered", stack)
}

// ListenAddr is the listen server's address, or "" when it is disabled.
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
