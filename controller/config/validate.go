package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-gitops/berth/compose/lint"
)

// Validate reports every problem at once, one per line, each naming the
// field and the bad value. It opens the secret files without reading them:
// a missing or unreadable one should stop berth at start, not at the first
// fetch.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	switch {
	case c.Repo == "":
		add("repo: required")
	case hasCredentials(c.Repo):
		add("repo: %q holds credentials; use git.username with git.password_file, or git.token_file", redact(c.Repo))
	}
	if msg := c.refProblem(); msg != "" {
		add("%s", msg)
	}
	if c.Commit != "" && !hexHash.MatchString(c.Commit) {
		add("commit: %q is not a commit hash (4 to 64 hex digits)", c.Commit)
	}
	if msg := repoPathProblem(c.Path); msg != "" {
		add("path: %q %s", c.Path, msg)
	}
	if c.Host == "" {
		add("host: empty, and this machine's host name is unknown; set it")
	}
	if c.Env != "" && !envName.MatchString(c.Env) {
		add("env: %q is not an environment name (letters, digits, '.', '_', '-')", c.Env)
	}
	if !filepath.IsAbs(c.DataDir) {
		add("data_dir: %q is not an absolute path", c.DataDir)
	}
	if msg := secretsDirProblem(c.SecretsDir); msg != "" {
		add("secrets_dir: %q %s", c.SecretsDir, msg)
	}
	for i, p := range c.SharedSecrets {
		if _, err := path.Match(p, "x"); err != nil || strings.Count(p, "/") > 1 {
			add("shared_secrets[%d]: %q is not a pattern of secret names: NAME or STACK/NAME (path.Match)", i, p)
		}
	}
	if c.AgeKeyFile != "" {
		if err := readable(c.AgeKeyFile); err != nil {
			add("age_key_file: %w", err)
		}
	}
	if msg := listenProblem(c.Listen); msg != "" {
		add("listen: %q %s", c.Listen, msg)
	}
	if _, err := ParseSchedule(c.Poll); err != nil {
		add("poll: %w", err)
	}
	if _, err := c.DeployWindows(); err != nil {
		add("%w", err)
	}
	if c.Drift != DriftCorrect && c.Drift != DriftWarn {
		add("drift: %q is not %q or %q", c.Drift, DriftCorrect, DriftWarn)
	}
	if c.Webhooks.MaxConcurrent < 0 {
		add("webhooks.max_concurrent: %d is negative", c.Webhooks.MaxConcurrent)
	}
	if c.Git.FetchTimeout.Duration <= 0 {
		add("git.fetch_timeout: %q is not positive", c.Git.FetchTimeout.String())
	}
	if c.Settle.Duration < 0 {
		add("settle: %q is negative", c.Settle.String())
	}
	errs = append(errs, c.Pressure.problems()...)
	if c.LoadTimeout.Duration <= 0 {
		add("load_timeout: %q is not positive", c.LoadTimeout.String())
	}
	errs = append(errs, c.Git.problems(c.filesUnder("git."))...)
	errs = append(errs, c.integrationProblems()...)
	errs = append(errs, c.PolicyProblems()...)
	errs = append(errs, c.controlProblems()...)
	return errors.Join(errs...)
}

var (
	hexHash = regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`)
	envName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// refProblem is set when more than one of branch, tag and commit is.
func (c *Config) refProblem() string {
	var set []string
	for _, r := range []struct{ name, value string }{{"branch", c.Branch}, {"tag", c.Tag}, {"commit", c.Commit}} {
		if r.value != "" {
			set = append(set, fmt.Sprintf("%s %q", r.name, r.value))
		}
	}
	switch len(set) {
	case 0:
		return "branch, tag, commit: none is set; set one"
	case 1:
		return ""
	case 2:
		return set[0] + " and " + set[1] + " are both set; set one"
	default:
		return strings.Join(set, ", ") + " are all set; set one"
	}
}

// repoPathProblem checks a folder inside the repository: relative, clean,
// never above the root. "." is the root.
func repoPathProblem(p string) string {
	switch {
	case p == "":
		return `is empty (use "." for the repository root)`
	case path.IsAbs(p):
		return "must be relative to the repository root"
	case p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/.."):
		return "leaves the repository"
	case path.Clean(p) != p:
		return fmt.Sprintf("is not clean (use %q)", path.Clean(p))
	}
	return ""
}

// secretsDirProblem checks the secrets dir: absolute, and a folder if it
// exists. A missing one is fine until a template asks for a secret.
func secretsDirProblem(dir string) string {
	if dir == "" {
		return ""
	}
	if !filepath.IsAbs(dir) {
		return "is not an absolute path"
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return "is not a directory"
	}
	return ""
}

func listenProblem(addr string) string {
	if addr == "" || addr == "off" {
		return ""
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return `is not host:port (like 127.0.0.1:9300), "" or "off"`
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "has no port number between 1 and 65535"
	}
	return ""
}

// problems checks the credentials: which go together, and that every file
// named can be read.
func (g Git) problems(files []FileSetting) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, f := range files {
		if err := readable(f.Path); err != nil {
			add("%s: %w", f.Key, err)
		}
	}
	if g.PasswordFile != "" && g.Username == "" {
		add("git.password_file is set but git.username is not")
	}
	if g.PasswordFile != "" && g.TokenFile != "" {
		add("git.password_file and git.token_file are both set; set one")
	}
	if g.SSHKeyFile != "" && g.KnownHostsFile == "" {
		add("git.ssh_key_file is set but git.known_hosts_file is not: the server's host key must be checked")
	}
	if g.VerifyCommits && g.TrustedKeysFile == "" {
		add("git.verify_commits is on but git.trusted_keys_file is not set")
	}
	return errs
}

// readable opens the file without reading it.
func readable(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	return nil
}

// hasCredentials says whether a URL carries a secret: a password in any
// scheme, or any user in an http(s) URL, where a token is often written as
// the user (https://TOKEN@host/repo). A user alone in ssh://git@host/repo is
// not a secret.
func hasCredentials(repo string) bool {
	u, err := url.Parse(repo)
	if err != nil || u.User == nil {
		return false
	}
	if _, ok := u.User.Password(); ok {
		return true
	}
	return u.Scheme == "http" || u.Scheme == "https"
}

// redact drops a URL's user and password.
func redact(repo string) string {
	u, err := url.Parse(repo)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	return u.String()
}

// PolicyProblems checks the policy section; its exceptions may name the
// host policy's rules and the lint checklist's.
func (c *Config) PolicyProblems() []error {
	return c.Policy.Problems("policy", func(id string) bool {
		return slices.ContainsFunc(lint.Rules(), func(r lint.Rule) bool { return r.ID == id })
	})
}

// OwnPaths are berth's own folders and files on this host: the data and
// secrets dirs, the age key and every credential file. The host policy
// refuses them to every stack, and any folder that holds one.
func (c Config) OwnPaths() []string {
	out := []string{c.DataDir, c.SecretsDir}
	for _, f := range c.Files() {
		out = append(out, f.Path)
	}
	return slices.DeleteFunc(out, func(p string) bool { return p == "" })
}
