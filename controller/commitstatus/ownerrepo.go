package commitstatus

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// scpLike matches git@host:owner/repo.git.
var scpLike = regexp.MustCompile(`^(?:[^@/]+@)?([^:/]+):(.+)$`)

// OwnerRepo reads the owner and the repository's name from a Git remote
// URL: https://host/owner/repo.git, ssh://git@host:22/owner/repo.git or
// git@host:owner/repo.git. The owner is every path segment but the last, so
// a GitLab subgroup comes out as "group/sub"; ".git" and slashes at the end
// are dropped. Errors never show the URL's credentials.
func OwnerRepo(repoURL string) (owner, repo string, err error) {
	var p string
	shown := redactSCP(repoURL)
	if strings.Contains(repoURL, "://") {
		shown = redact(repoURL)
	}
	notHosted := fmt.Errorf("repo URL %q is not on a Git host (http, https, ssh or git@host:path)", shown)
	if strings.Contains(repoURL, "://") {
		u, err := url.Parse(repoURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "ssh" && u.Scheme != "git") {
			return "", "", notHosted
		}
		p = u.Path
	} else {
		// Git's rule: scp-like when a colon comes before any slash.
		m := scpLike.FindStringSubmatch(repoURL)
		if m == nil {
			return "", "", notHosted
		}
		p = m[2]
	}
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	i := strings.LastIndex(p, "/")
	if i <= 0 || i == len(p)-1 {
		return "", "", fmt.Errorf("repo URL %q has no owner/repo path", shown)
	}
	return p[:i], p[i+1:], nil
}

// redactSCP drops a user from git@host:path (a token is never there, but
// be safe).
func redactSCP(s string) string {
	if i := strings.Index(s, "@"); i >= 0 && !strings.Contains(s[:i], "/") {
		return s[i+1:]
	}
	return s
}
