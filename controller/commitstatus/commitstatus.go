// Package commitstatus posts berth's verdict on a commit to the Git host, so
// that a merge commit shows whether each host deployed it: GitHub's commit
// statuses, GitLab's commit statuses (pipelines "external" jobs) and
// Gitea's and Forgejo's commit statuses.
//
// The context (berth/<host>/<stack>) and the description are the caller's;
// this package knows the three APIs, their state names and their limits.
// The token never appears in an error: errors name the provider and the
// HTTP status.
package commitstatus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/berth-gitops/berth/gitsource"
)

// Providers.
const (
	GitHub = "github"
	GitLab = "gitlab"
	Gitea  = "gitea" // Forgejo too
)

// State is a commit status state, in GitHub's words; each provider's word
// is used on the wire.
type State string

// The states berth posts.
const (
	Pending State = "pending"
	Success State = "success"
	Failure State = "failure"
)

// MaxDescription is the longest description sent (GitHub's limit); longer
// ones are cut with "…".
const MaxDescription = 140

// Options say where to post.
type Options struct {
	Provider string
	// BaseURL is the API's base: for GitHub https://api.github.com (the
	// default) or https://HOST/api/v3; for GitLab the instance
	// (https://gitlab.com, the default); for Gitea and Forgejo the instance
	// (required). A trailing /api/v4 or /api/v1 is accepted too.
	BaseURL string
	Token   string
	// Owner and Repo name the repository; GitLab's Owner may hold
	// subgroups ("group/sub"). See OwnerRepo.
	Owner, Repo string
	// HTTPClient is http.DefaultClient when nil.
	HTTPClient *http.Client
}

// Status is one status of a commit.
type Status struct {
	Commit      string
	State       State
	Context     string // berth/<host>/<stack>
	Description string
	TargetURL   string // the status page, when there is one
}

// Client posts statuses to one repository.
type Client struct {
	provider string
	base     *url.URL
	token    string
	owner    string
	repo     string
	http     *http.Client
}

// New checks the options.
func New(o Options) (*Client, error) {
	c := &Client{provider: o.Provider, token: o.Token, owner: strings.Trim(o.Owner, "/"), repo: strings.Trim(o.Repo, "/"), http: o.HTTPClient}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	base := strings.TrimRight(o.BaseURL, "/")
	switch o.Provider {
	case GitHub:
		if base == "" {
			base = "https://api.github.com"
		}
	case GitLab:
		if base == "" {
			base = "https://gitlab.com"
		}
		base = strings.TrimSuffix(base, "/api/v4")
	case Gitea:
		if base == "" {
			return nil, errors.New("commit status: gitea needs the instance's URL")
		}
		base = strings.TrimSuffix(base, "/api/v1")
	default:
		return nil, fmt.Errorf("commit status: provider %q is not github, gitlab or gitea", o.Provider)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("commit status: %s URL %q is not an http(s) URL without credentials", o.Provider, redact(base))
	}
	c.base = u
	switch {
	case o.Token == "":
		return nil, fmt.Errorf("commit status: %s needs a token", o.Provider)
	case c.owner == "" || c.repo == "":
		return nil, fmt.Errorf("commit status: %s needs the owner and the repo", o.Provider)
	case o.Provider != GitLab && strings.Contains(c.owner, "/"):
		return nil, fmt.Errorf("commit status: %s owner %q holds a slash", o.Provider, c.owner)
	}
	return c, nil
}

// Provider is the client's provider name.
func (c *Client) Provider() string { return c.provider }

var commitHash = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// Post sets the status. It tries once; the caller retries (notify's queue
// does, through Sink).
func (c *Client) Post(ctx context.Context, s Status) error {
	if !commitHash.MatchString(s.Commit) {
		return fmt.Errorf("commit status (%s): %q is not a full commit hash", c.provider, s.Commit)
	}
	if s.State != Pending && s.State != Success && s.State != Failure {
		return fmt.Errorf("commit status (%s): state %q is not pending, success or failure", c.provider, s.State)
	}
	endpoint, body := c.request(s)
	js, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("commit status (%s): %w", c.provider, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(js))
	if err != nil {
		return fmt.Errorf("commit status (%s): %w", c.provider, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "berth")
	switch c.provider {
	case GitHub:
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Accept", "application/vnd.github+json")
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	case GitLab:
		req.Header.Set("PRIVATE-TOKEN", c.token)
	case Gitea:
		req.Header.Set("Authorization", "token "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is said once, below, without a query
		}
		return &Error{Provider: c.provider, Commit: s.Commit, Err: err}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	if c.provider == GitLab && resp.StatusCode == http.StatusBadRequest && bytes.Contains(msg, []byte("Cannot transition status")) {
		return nil // GitLab refuses to post a state the commit already has
	}
	return &Error{Provider: c.provider, Commit: s.Commit, Status: resp.StatusCode, Message: apiMessage(msg, c.token)}
}

// request builds the provider's URL and JSON body.
func (c *Client) request(s Status) (string, map[string]string) {
	desc := truncate(s.Description, MaxDescription)
	u := *c.base
	var body map[string]string
	switch c.provider {
	case GitLab:
		state := string(s.State)
		if s.State == Failure {
			state = "failed"
		}
		// The project is one path segment: group%2Fsub%2Frepo.
		raw := strings.TrimSuffix(c.base.EscapedPath(), "/") + "/api/v4/projects/" +
			url.PathEscape(c.owner+"/"+c.repo) + "/statuses/" + s.Commit
		u.Path, _ = url.PathUnescape(raw)
		u.RawPath = raw
		body = map[string]string{"state": state, "name": s.Context, "description": desc}
	case Gitea:
		u = *u.JoinPath("api/v1/repos", c.owner, c.repo, "statuses", s.Commit)
		body = map[string]string{"state": string(s.State), "context": s.Context, "description": desc}
	default: // GitHub
		u = *u.JoinPath("repos", c.owner, c.repo, "statuses", s.Commit)
		body = map[string]string{"state": string(s.State), "context": s.Context, "description": desc}
	}
	if s.TargetURL != "" {
		body["target_url"] = s.TargetURL
	}
	return u.String(), body
}

// truncate cuts s to max runes, the last being "…".
func truncate(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

// apiMessage is the "message" of an API's JSON error, cut short, with the
// token masked should a server echo it.
func apiMessage(body []byte, token string) string {
	var e struct {
		Message any `json:"message"`
		Error   any `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	m := e.Message
	if m == nil {
		m = e.Error
	}
	if m == nil {
		return ""
	}
	s := truncate(fmt.Sprint(m), 200)
	if token != "" {
		s = strings.ReplaceAll(s, token, "***")
	}
	return s
}

// Error is a status the host did not take.
type Error struct {
	Provider string
	Commit   string
	Status   int // 0 when no answer came
	Message  string
	Err      error
}

func (e *Error) Error() string {
	short := gitsource.Short(e.Commit)
	if e.Status == 0 {
		return fmt.Sprintf("commit status (%s) of %s: %v", e.Provider, short, e.Err)
	}
	s := fmt.Sprintf("commit status (%s) of %s: HTTP %d %s", e.Provider, short, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable is false for a 4xx other than 408 and 429: a bad token, a
// missing repo or a refused state does not get better by trying again.
func (e *Error) Retryable() bool {
	return e.Status == 0 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	return u.String()
}
