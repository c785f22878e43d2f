package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/berth-gitops/berth/controller/commitstatus"
)

// The settings of what berth talks to besides Git and the engine:
// webhooks in, notifications and commit statuses out.

// integrationProblems checks the webhooks, notifications, commit status
// and status URL.
func (c Config) integrationProblems() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	var hooks []string
	for _, f := range c.filesUnder("webhooks.", "notify.", "commit_status.") {
		if err := readable(f.Path); err != nil {
			add("%s: %w", f.Key, err)
		}
		if strings.HasPrefix(f.Key, "webhooks.") {
			hooks = append(hooks, f.Key)
		}
	}
	if len(hooks) > 0 && c.ListenAddr() == "" {
		add("%s: set, but listen is off: webhooks arrive on the listen server", strings.Join(hooks, ", "))
	}

	errs = append(errs, c.Notify.notifyProblems()...)

	if c.StatusURL != "" {
		if msg := httpURLProblem(c.StatusURL); msg != "" {
			add("status_url: %q %s", redact(c.StatusURL), msg)
		}
	}
	return append(errs, c.commitStatusProblems()...)
}

func (c Config) commitStatusProblems() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	cs := c.CommitStatus
	switch cs.Provider {
	case "":
		if cs.TokenFile != "" || cs.URL != "" || cs.Owner != "" || cs.Repo != "" {
			add("commit_status: token_file, url, owner or repo is set but commit_status.provider is not")
		}
		return errs
	case ProviderGitHub, ProviderGitLab, ProviderGitea:
	default:
		add("commit_status.provider: %q is not %q, %q or %q", cs.Provider, ProviderGitHub, ProviderGitLab, ProviderGitea)
		return errs
	}
	if cs.TokenFile == "" {
		add("commit_status.provider is %q but commit_status.token_file is not set", cs.Provider)
	}
	switch {
	case cs.URL != "":
		if msg := httpURLProblem(cs.URL); msg != "" {
			add("commit_status.url: %q %s", redact(cs.URL), msg)
		}
	case cs.Provider == ProviderGitea:
		add("commit_status.url: required for gitea (the instance's URL, like https://git.example.com)")
	}
	if (cs.Owner == "") != (cs.Repo == "") {
		add("commit_status.owner and commit_status.repo: set both or neither (neither takes them from repo)")
	}
	if _, _, err := c.CommitStatusRepo(); err != nil && c.Repo != "" {
		add("commit_status: %v; set commit_status.owner and commit_status.repo", err)
	}
	return errs
}

// CommitStatusRepo is the owner and repository that commit statuses go
// to: commit_status.owner and .repo, or else the ones in the repo URL.
func (c Config) CommitStatusRepo() (owner, repo string, err error) {
	if c.CommitStatus.Owner != "" || c.CommitStatus.Repo != "" {
		return c.CommitStatus.Owner, c.CommitStatus.Repo, nil
	}
	owner, repo, err = commitstatus.OwnerRepo(c.Repo)
	if err == nil && c.CommitStatus.Provider != ProviderGitLab && strings.Contains(owner, "/") {
		return "", "", fmt.Errorf("repo URL %q has a nested path; only gitlab has subgroups", redact(c.Repo))
	}
	return owner, repo, err
}

// httpURLProblem checks an http(s) URL that must not carry credentials.
func httpURLProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return "is not an http(s) URL"
	case u.User != nil:
		return "holds credentials"
	}
	return ""
}
