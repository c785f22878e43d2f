package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Errors callers can test with errors.Is to tell a problem a person must fix
// (credentials, host keys, a missing ref, an untrusted commit) from one that
// may pass on retry (network, a remote that is down).
var (
	ErrAuth        = errors.New("authentication failed")
	ErrHostKey     = errors.New("host key verification failed")
	ErrRefNotFound = errors.New("not found") // a branch, tag, commit or revision

	ErrUntrusted = errors.New("commit signature not trusted")
	// ErrTooLarge is a file larger than ReadFile reads (MaxReadFile).
	ErrTooLarge = errors.New("file too large")
	ErrReadOnly = errors.New("repository is opened read-only")
)

// UnsafeTreeError is a commit whose files berth refuses to export: a path
// or a symlink that would reach outside the export. The commit must change.
type UnsafeTreeError struct {
	Path string // the path in the tree, slash-separated
	Err  error
}

func (e *UnsafeTreeError) Error() string { return e.Err.Error() }

// HostKeyError says why an SSH server's host key was refused.
type HostKeyError struct {
	Host        string // host:port as dialed
	File        string // the known_hosts file
	Fingerprint string // SHA256 fingerprint of the key the server showed
	Changed     bool   // the host is listed with another key
}

func (e *HostKeyError) Error() string {
	if e.Changed {
		return fmt.Sprintf("host key of %s (%s) does not match the key in the known_hosts file %s: it changed, or someone is in the middle",
			e.Host, e.Fingerprint, e.File)
	}
	return fmt.Sprintf("host key of %s (%s) is not in the known_hosts file %s", e.Host, e.Fingerprint, e.File)
}

func (e *HostKeyError) Unwrap() error { return ErrHostKey }

// fetchError turns an error from go-git into one that names the redacted
// remote and says plainly what went wrong.
func (r *Repo) fetchError(err error) error {
	u := r.scrub.redacted
	var hk *HostKeyError
	var noRef git.NoMatchingRefSpecError
	var netErr *url.Error
	switch {
	case errors.As(err, &hk):
		return fmt.Errorf("fetch %s: %w", u, hk)
	case errors.Is(err, transport.ErrAuthenticationRequired),
		strings.Contains(err.Error(), "unable to authenticate"):
		if !r.hasCredentials() {
			return fmt.Errorf("%w for %s: the remote wants credentials and none are configured", ErrAuth, u)
		}
		return fmt.Errorf("%w for %s: credentials rejected", ErrAuth, u)
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("%w for %s: access denied", ErrAuth, u)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("fetch %s: repository not found (or private and the credentials give no access)", u)
	case errors.As(err, &noRef), errors.Is(err, transport.ErrEmptyRemoteRepository):
		return fmt.Errorf("fetch %s: %s %w", u, r.follow.label, ErrRefNotFound)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("fetch %s: %w", u, err)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("fetch %s: disk full: %w", u, r.scrub.wrap(err))
	case httpStatus(err) != 0:
		code := httpStatus(err)
		return fmt.Errorf("fetch %s: the server answered %d %s", u, code, http.StatusText(code))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("fetch %s: connection closed by the server before it answered: %w", u, io.ErrUnexpectedEOF)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("fetch %s: connection closed by the server before it answered: %w", u, io.EOF)
	case errors.As(err, &netErr):
		// Drop net/http's `Get "<url>/info/refs?service=...":` prefix.
		return fmt.Errorf("fetch %s: %w", u, r.scrub.wrap(netErr.Err))
	}
	return fmt.Errorf("fetch %s: %w", u, r.scrub.wrap(err))
}

// httpStatus is the status of an HTTP answer go-git did not expect (a 5xx,
// a 429), or 0. go-git wraps it in a type that does not unwrap.
func httpStatus(err error) int {
	var unexpected *plumbing.UnexpectedError
	if errors.As(err, &unexpected) {
		err = unexpected.Err
	}
	var e *githttp.Err
	if errors.As(err, &e) && e.Response != nil {
		return e.StatusCode()
	}
	return 0
}

func (r *Repo) hasCredentials() bool {
	a := r.opts.Auth
	if a.Token != "" || a.Password != "" || a.Username != "" || a.SSHKeyFile != "" {
		return true
	}
	return strings.Contains(r.opts.URL, "://") && Redact(r.opts.URL) != r.opts.URL
}
