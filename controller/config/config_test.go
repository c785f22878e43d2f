package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller/policy"
)

func TestDefault(t *testing.T) {
	c := Default()
	host, _ := os.Hostname()
	want := Config{Branch: "main", Path: "stacks", Host: host, DataDir: "/var/lib/berth", SecretsDir: "/etc/berth/secrets", Listen: "127.0.0.1:9300",
		Poll: "1m", Drift: "correct", Settle: Duration{10 * time.Second}, Git: Git{FetchTimeout: Duration{2 * time.Minute}}, LoadTimeout: Duration{30 * time.Second},
		Notify:   Notify{Window: Duration{10 * time.Minute}},
		Pressure: Pressure{Interval: Duration{30 * time.Second}, Warning: 90, Critical: 95}, StatusPage: true}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Default() =\n%+v\nwant\n%+v", c, want)
	}
	c.Repo = "https://git.example.com/infra.git"
	if err := c.Validate(); err != nil {
		t.Fatalf("Default with a repo does not validate: %v", err)
	}
	if got := c.ListenAddr(); got != "127.0.0.1:9300" {
		t.Errorf("ListenAddr() = %q", got)
	}
	c.Listen = "off"
	if got := c.ListenAddr(); got != "" {
		t.Errorf("ListenAddr() with listen off = %q, want empty", got)
	}
}

func TestLoadFull(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "berth.yaml"), `
repo: ssh://git@git.example.com/infra.git
branch: ""
tag: v1.4.0
commit: ""
path: deploy/stacks
host: vps-1
env: production
data_dir: state
secrets_dir: secrets
age_key_file: /etc/berth/age.key
listen: ":9400"
poll: "*/5 * * * *"
drift: warn
shallow: true
settle: 2500ms
status_page: false
git:
  username: deploy
  password_file: ""
  token_file: ""
  ssh_key_file: /etc/berth/id_ed25519
  known_hosts_file: known_hosts
  verify_commits: true
  trusted_keys_file: keys.asc
`)
	c, err := Load(filepath.Join(dir, "berth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Repo: "ssh://git@git.example.com/infra.git", Tag: "v1.4.0", Path: "deploy/stacks", Host: "vps-1",
		Env: "production", DataDir: filepath.Join(dir, "state"), SecretsDir: filepath.Join(dir, "secrets"),
		AgeKeyFile: "/etc/berth/age.key", Listen: ":9400", Poll: "*/5 * * * *",
		Drift: "warn", Shallow: true, Settle: Duration{2500 * time.Millisecond}, LoadTimeout: Duration{30 * time.Second}, Notify: Notify{Window: Duration{10 * time.Minute}},
		Git: Git{Username: "deploy", SSHKeyFile: "/etc/berth/id_ed25519", KnownHostsFile: filepath.Join(dir, "known_hosts"),
			VerifyCommits: true, TrustedKeysFile: filepath.Join(dir, "keys.asc"), FetchTimeout: Duration{2 * time.Minute}},
		Pressure: Pressure{Interval: Duration{30 * time.Second}, Warning: 90, Critical: 95},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Load =\n%+v\nwant\n%+v", c, want)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "repo: x\nbranchh: main\n", `line 2: unknown key "branchh"`},
		{"unknown git key", "repo: x\ngit:\n  token: abc\n", `line 3: unknown key "git.token"`},
		{"bad bool", "shallow: maybe\n", "line 1: cannot unmarshal !!str `maybe` into bool"},
		{"bad duration", "settle: soon\n", `line 1: "soon" is not a duration`},
		{"syntax", "repo: [\n", "yaml: line 1"},
		{"unknown policy key", "policy:\n  profil: baseline\n", `line 2: unknown key "policy.profil"`},
		{"unknown exception key", "policy:\n  exceptions:\n    - {rule: host-pid, why: x}\n", `line 3: unknown key "policy.exceptions[].why"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			writeFile(t, path, tc.yaml)
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "config "+path+": ") {
				t.Fatalf("Load error = %v, want %q prefixed with the path", err, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("Load of a missing file: %v", err)
	}
}

func TestParseEmpty(t *testing.T) {
	c, err := Parse(nil)
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("Parse(empty) = %+v, %v; want Default()", c, err)
	}
	c, err = Parse([]byte("host: \"\"\n"))
	if err != nil || c.Host != Default().Host {
		t.Fatalf("empty host = %q, %v; want the host name", c.Host, err)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	writeFile(t, secret, "s3cr3t\n")
	missing := filepath.Join(dir, "nope")
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"repo required", func(c *Config) { c.Repo = "" }, "repo: required"},
		{"password in repo", func(c *Config) { c.Repo = "https://bot:hunter2@git.example.com/x.git" }, `repo: "https://git.example.com/x.git" holds credentials`},
		{"token as user", func(c *Config) { c.Repo = "https://ghp_abc@github.com/x.git" }, `repo: "https://github.com/x.git" holds credentials`},
		{"ssh user is fine", func(c *Config) { c.Repo = "ssh://git@git.example.com/x.git" }, ""},
		{"tag only", func(c *Config) { c.Branch, c.Tag = "", "v1" }, ""},
		{"branch and tag", func(c *Config) { c.Tag = "v1" }, `branch "main" and tag "v1" are both set; set one`},
		{"all three", func(c *Config) { c.Tag, c.Commit = "v1", "abc123" }, `branch "main", tag "v1", commit "abc123" are all set`},
		{"no ref", func(c *Config) { c.Branch = "" }, "branch, tag, commit: none is set"},
		{"bad commit", func(c *Config) { c.Branch, c.Commit = "", "HEAD~1" }, `commit: "HEAD~1" is not a commit hash`},
		{"root path", func(c *Config) { c.Path = "." }, ""},
		{"empty path", func(c *Config) { c.Path = "" }, `path: "" is empty`},
		{"absolute path", func(c *Config) { c.Path = "/stacks" }, `path: "/stacks" must be relative`},
		{"dotdot path", func(c *Config) { c.Path = "stacks/../../etc" }, `path: "stacks/../../etc" leaves the repository`},
		{"unclean path", func(c *Config) { c.Path = "./stacks/" }, `path: "./stacks/" is not clean (use "stacks")`},
		{"bad env", func(c *Config) { c.Env = "../prod" }, `env: "../prod" is not an environment name`},
		{"relative data dir", func(c *Config) { c.DataDir = "data" }, `data_dir: "data" is not an absolute path`},
		{"listen off", func(c *Config) { c.Listen = "off" }, ""},
		{"listen empty", func(c *Config) { c.Listen = "" }, ""},
		{"listen all", func(c *Config) { c.Listen = ":9300" }, ""},
		{"listen no port", func(c *Config) { c.Listen = "9300" }, `listen: "9300" is not host:port`},
		{"listen bad port", func(c *Config) { c.Listen = "localhost:http" }, `listen: "localhost:http" has no port number`},
		{"poll too fast", func(c *Config) { c.Poll = "500ms" }, `poll: "500ms" is under the 1s minimum`},
		{"poll garbage", func(c *Config) { c.Poll = "often" }, `poll: "often" is neither a duration nor a cron spec`},
		{"windows", func(c *Config) {
			c.Windows = []Window{{Kind: "deny", Schedule: "0 22 * * *", Duration: "10h", Timezone: "Europe/Berlin"}}
		}, ""},
		{"window time zone", func(c *Config) {
			c.Windows = []Window{{Kind: "deny", Schedule: "0 22 * * *", Duration: "10h", Timezone: "Mars/Olympus"}}
		}, `windows[0].timezone: "Mars/Olympus" is not a known time zone`},
		{"window kind", func(c *Config) { c.Windows = []Window{{Kind: "maybe", Schedule: "0 22 * * *", Duration: "10h"}} }, `windows[0].kind: "maybe" is not allow or deny`},
		{"drift", func(c *Config) { c.Drift = "fix" }, `drift: "fix" is not "correct" or "warn"`},
		{"webhook bound negative", func(c *Config) { c.Webhooks.MaxConcurrent = -1 }, `webhooks.max_concurrent: -1 is negative`},
		{"settle negative", func(c *Config) { c.Settle = Duration{-time.Second} }, `settle: "-1s" is negative`},
		{"pressure warning 0", func(c *Config) { c.Pressure.Warning = 0 }, `pressure.warning: 0 is not a percentage from 1 to 100`},
		{"pressure critical below warning", func(c *Config) { c.Pressure.Warning, c.Pressure.Critical = 80, 70 }, `pressure.critical: 70 is below pressure.warning (80)`},
		{"pressure critical over 100", func(c *Config) { c.Pressure.Critical = 101 }, `pressure.critical: 101 is not a percentage`},
		{"pressure interval negative", func(c *Config) { c.Pressure.Interval = Duration{-time.Second} }, `pressure.interval: "-1s": want 0 (off) or 1s or more`},
		{"pressure interval too short", func(c *Config) { c.Pressure.Interval = Duration{time.Millisecond} }, `pressure.interval: "1ms": want 0 (off) or 1s or more`},
		{"pressure off", func(c *Config) { c.Pressure.Interval = Duration{} }, ""},
		{"load timeout zero", func(c *Config) { c.LoadTimeout = Duration{} }, `load_timeout: "0s" is not positive`},
		{"shared secret pattern", func(c *Config) { c.SharedSecrets = []string{"smtp_*", "a/b/c"} }, `shared_secrets[1]: "a/b/c" is not a pattern of secret names`},
		{"token file ok", func(c *Config) { c.Git.TokenFile = secret }, ""},
		{"token file missing", func(c *Config) { c.Git.TokenFile = missing }, "git.token_file: open " + missing + ": no such file"},
		{"password file missing", func(c *Config) { c.Git.Username, c.Git.PasswordFile = "u", missing }, "git.password_file: open " + missing},
		{"ssh key missing", func(c *Config) { c.Git.SSHKeyFile, c.Git.KnownHostsFile = missing, secret }, "git.ssh_key_file: open " + missing},
		{"known hosts missing", func(c *Config) { c.Git.SSHKeyFile, c.Git.KnownHostsFile = secret, missing }, "git.known_hosts_file: open " + missing},
		{"trusted keys missing", func(c *Config) { c.Git.VerifyCommits, c.Git.TrustedKeysFile = true, missing }, "git.trusted_keys_file: open " + missing},
		{"secret is a dir", func(c *Config) { c.Git.TokenFile = dir }, "git.token_file: " + dir + " is a directory"},
		{"password needs user", func(c *Config) { c.Git.PasswordFile = secret }, "git.password_file is set but git.username is not"},
		{"password and token", func(c *Config) { c.Git.Username, c.Git.PasswordFile, c.Git.TokenFile = "u", secret, secret }, "git.password_file and git.token_file are both set"},
		{"ssh needs known hosts", func(c *Config) { c.Git.SSHKeyFile = secret }, "git.ssh_key_file is set but git.known_hosts_file is not"},
		{"verify needs keys", func(c *Config) { c.Git.VerifyCommits = true }, "git.verify_commits is on but git.trusted_keys_file is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Repo = "https://git.example.com/infra.git"
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			for _, secret := range []string{"hunter2", "ghp_abc", "s3cr3t"} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Fatalf("error leaks a secret: %v", err)
				}
			}
		})
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	c := Default()
	c.Path, c.Poll, c.Drift = "/x", "1ms", "nope"
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{"repo: required", `path: "/x" must be relative to the repository root`,
		`poll: "1ms" is under the 1s minimum`, `drift: "nope" is not "correct" or "warn"`}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("lines =\n%q\nwant\n%q", lines, want)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPolicySection: berth.yaml's policy section, the profile from a
// variable and a flag, and its problems named by key path and value.
func TestPolicySection(t *testing.T) {
	c, err := Parse([]byte(`repo: https://git.example.com/infra.git
policy:
  profile: restricted
  require_read_only: true
  host_paths:
    - {path: /srv/media, stacks: ["media*"], read_only: true}
  stacks:
    monitoring: {profile: privileged}
  exceptions:
    - {rule: host-pid, stack: monitoring, service: node-exporter, reason: "reads host processes"}
    - {rule: secret-literal, stack: shop, service: worker, reason: "a test value"}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Policy
	if p.Profile != "restricted" || !p.RequireReadOnly || len(p.HostPaths) != 1 || !p.HostPaths[0].ReadOnly ||
		p.Stacks["monitoring"].Profile != "privileged" || len(p.Exceptions) != 2 || p.Exceptions[0].Service != "node-exporter" {
		t.Fatalf("policy = %+v", p)
	}
	if errs := c.PolicyProblems(); len(errs) != 0 {
		t.Fatalf("valid policy: %v", errs)
	}
	if p.ProfileFor("monitoring") != "privileged" || p.ProfileFor("shop") != "restricted" {
		t.Errorf("profiles: %s %s", p.ProfileFor("monitoring"), p.ProfileFor("shop"))
	}
	if err := c.ApplyEnv(func(k string) string { return map[string]string{"BERTH_POLICY_PROFILE": "baseline"}[k] }); err != nil || c.Policy.Profile != "baseline" {
		t.Fatalf("BERTH_POLICY_PROFILE: %v, %q", err, c.Policy.Profile)
	}
	c.Policy.Profile = "lax"
	c.Policy.Exceptions = append(c.Policy.Exceptions, policyException("no-such-rule"))
	got := fmt.Sprint(c.PolicyProblems())
	for _, want := range []string{`policy.profile: "lax" is not one of baseline, restricted, privileged`, `policy.exceptions[2].rule: "no-such-rule" is not a rule id`} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %s lack %q", got, want)
		}
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `policy.profile: "lax"`) {
		t.Errorf("Validate should report the policy's problems: %v", err)
	}
}

func policyException(rule string) policy.Exception {
	return policy.Exception{Rule: rule, Reason: "x"}
}

func TestOwnPaths(t *testing.T) {
	c := Default()
	c.AgeKeyFile = "/srv/keys/age.txt"
	c.Git.TokenFile = "/srv/keys/git-token"
	c.Notify.SlackURLFile = "/home/berth/slack"
	got := strings.Join(c.OwnPaths(), " ")
	want := "/var/lib/berth /etc/berth/secrets /srv/keys/age.txt /srv/keys/git-token /home/berth/slack"
	if got != want {
		t.Errorf("OwnPaths = %s\nwant %s", got, want)
	}
}

func TestSharedSecretsFromTheEnvironment(t *testing.T) {
	c := Default()
	env := map[string]string{"BERTH_SHARED_SECRETS": "smtp_password, shop/registry_*,"}
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"smtp_password", "shop/registry_*"}; !slices.Equal(c.SharedSecrets, want) {
		t.Errorf("shared_secrets = %q, want %q", c.SharedSecrets, want)
	}
}
