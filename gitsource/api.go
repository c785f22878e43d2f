// Package gitsource follows a Git repository with go-git: it clones once
// into a directory, fetches incrementally, resolves the followed ref to a
// commit, reads a commit's files without a working copy, lists the paths
// changed between two commits and can verify commit signatures.
//
// It knows nothing of compose or Docker.
package gitsource

import (
	"log/slog"
	"time"
)

// Options say what to follow and how to reach it.
type Options struct {
	// URL is the remote: https://, http://, ssh://, user@host:path, file://
	// or a local path. Credentials embedded in it are used but never
	// logged or returned in errors.
	URL string
	// Dir is where the local (bare) clone lives. Open clones into it when
	// it is empty or missing and reuses it otherwise.
	Dir string
	// Exactly one of Branch, Tag and Commit is set; Branch "main" when none is.
	Branch string
	Tag    string
	Commit string
	// Depth > 0 makes a shallow clone and shallow fetches.
	Depth int
	Auth  Auth
	// Verify, when set, refuses commits that are not signed by a trusted key.
	Verify *Verifier
	Logger *slog.Logger
}

// Auth holds credentials. Zero value: none.
type Auth struct {
	// HTTP(S): a token (sent as the password of basic auth, user "git" unless
	// Username is set) or a user and password.
	Username string
	Password string
	Token    string
	// SSH: a private key (PEM/OpenSSH), its passphrase, and the known_hosts
	// file that the server's host key must be in (strict).
	SSHKeyFile     string
	SSHKeyPassword string
	KnownHostsFile string
}

// Commit is a commit's metadata.
type Commit struct {
	Hash    string    `json:"hash"`
	Author  string    `json:"author"`
	Email   string    `json:"email"`   // the author's
	Message string    `json:"message"` // without the trailing newline
	Time    time.Time `json:"time"`    // the committer date
}

// Short is the first 12 characters of the hash.
func (c Commit) Short() string { return Short(c.Hash) }

// Short cuts a commit hash to the 12 characters berth shows to people in
// status, logs, errors and notifications: enough to be unique in any
// repository a person reads, short enough for a table column.
func Short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// The implementation provides, on *Repo:
//
//	func Open(ctx context.Context, o Options) (*Repo, error)            // clone or reuse Dir, then fetch; on a fetch error the Repo comes back too
//	func (r *Repo) Fetch(ctx context.Context) (Commit, error)           // fetch; resolve the followed ref; warn on force-push
//	func (r *Repo) Head() (Commit, error)                               // the followed ref's commit as last fetched, no network
//	func (r *Repo) Commit(hash string) (Commit, error)
//	func (r *Repo) Dirs(hash, dir string) ([]string, error)             // names of the sub-folders of dir at a commit
//	func (r *Repo) ReadFile(hash, path string) ([]byte, error)          // fs.ErrNotExist when absent
//	func (r *Repo) FileSize(hash, path string) (int64, error)           // without reading it; fs.ErrNotExist when absent
//	func (r *Repo) ExportTree(hash, dir, parent string) (Export, error) // dir at hash into parent/<tree hash>/<name>, immutable, reused when present
//	func (r *Repo) ExportPath(hash, dir, rel, parent string) (Export, error) // one file or folder of dir into parent/<object hash>
//	func (r *Repo) TreeHash(hash, dir string) (string, error)           // the name ExportTree gives dir's export
//	func (r *Repo) Export(hash, dir, dest string) error                 // dest removed, then written afresh with dir's files (scratch folders)
//	func (r *Repo) Changed(from, to string) ([]string, error)           // paths changed between two commits
//	func (r *Repo) VerifyCommit(hash string) error                      // nil when no Verifier is set
//	func (r *Repo) Resolve(rev string) (Commit, error)                  // a full or short hash, branch, tag, HEAD, HEAD~1
//	func OpenLocal(path string) (*Repo, error)                          // an existing repo (work tree or bare) with no remote fetching
//	func Redact(url string) string                                      // the URL without credentials
//
// Errors to test with errors.Is: ErrAuth, ErrHostKey, ErrRefNotFound,
// ErrUntrusted (a *VerifyError), ErrReadOnly; with errors.As:
// *HostKeyError, *UnsafeTreeError (a commit berth refuses to export); see
// errors.go.

// Verifier checks commit signatures against trusted keys. Only OpenPGP
// signatures can be verified: go-git v5 has no SSH signature verification,
// so a commit signed with an SSH key (gpg.format=ssh) is refused.
type Verifier struct {
	// ArmoredKeyRing holds the trusted OpenPGP public keys, ASCII-armored.
	ArmoredKeyRing string
}
