package gitsource

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Repo is a local clone that follows one ref of a remote, or a repository
// opened read-only with OpenLocal. Its methods are safe for concurrent use;
// they take turns, because go-git's storage is not safe for concurrent use.
type Repo struct {
	mu     sync.Mutex
	git    *git.Repository
	opts   Options
	follow follow
	auth   transport.AuthMethod
	scrub  scrubber
	log    *slog.Logger
	where  string // the redacted URL, or the local path
	local  bool

	// head is the followed commit as last fetched, kept apart so that Head
	// answers at once while a slow fetch holds mu.
	headMu sync.Mutex
	head   *Commit
}

// follow says which remote ref is fetched and where it lands locally.
type follow struct {
	label string                 // `branch "main"`, for messages
	ref   string                 // the remote ref name, for logs
	spec  config.RefSpec         // fetches that one ref
	local plumbing.ReferenceName // where spec writes it; empty for a commit pin
	pin   string                 // the pinned commit, as given
}

func newFollow(o Options) (follow, error) {
	set := 0
	for _, v := range []string{o.Branch, o.Tag, o.Commit} {
		if v != "" {
			set++
		}
	}
	if set > 1 {
		return follow{}, fmt.Errorf("set one of Branch, Tag and Commit, not %d (branch %q, tag %q, commit %q)",
			set, o.Branch, o.Tag, o.Commit)
	}
	switch {
	case o.Tag != "":
		ref := plumbing.NewTagReferenceName(o.Tag)
		return follow{label: fmt.Sprintf("tag %q", o.Tag), ref: ref.String(), local: ref,
			spec: config.RefSpec("+" + ref.String() + ":" + ref.String())}, nil
	case o.Commit != "":
		if len(o.Commit) < 7 || len(o.Commit) > 40 || !isHex(o.Commit) {
			return follow{}, fmt.Errorf("commit %q: want a hash of 7 to 40 hex digits", o.Commit)
		}
		// The commit may be on any branch; fetch them all until it is here.
		return follow{label: fmt.Sprintf("commit %s", o.Commit), ref: o.Commit, pin: o.Commit,
			spec: config.RefSpec("+refs/heads/*:refs/heads/*")}, nil
	}
	branch := o.Branch
	if branch == "" {
		branch = "main"
	}
	ref := plumbing.NewBranchReferenceName(branch)
	return follow{label: fmt.Sprintf("branch %q", branch), ref: ref.String(), local: ref,
		spec: config.RefSpec("+" + ref.String() + ":" + ref.String())}, nil
}

func isHex(s string) bool {
	if len(s)%2 == 1 {
		s += "0"
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Open clones o.URL into o.Dir as a bare repository, or reuses the clone
// already there, then fetches. When only that fetch fails, Open returns the
// Repo along with the error: Head serves what a reused clone last fetched
// (a fresh one has nothing yet) and Fetch can be retried.
func Open(ctx context.Context, o Options) (*Repo, error) {
	if o.URL == "" {
		return nil, errors.New("open: URL is empty")
	}
	if o.Dir == "" {
		return nil, fmt.Errorf("open %s: Dir is empty", Redact(o.URL))
	}
	f, err := newFollow(o)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Redact(o.URL), err)
	}
	if o.Verify != nil {
		if _, err := openpgp.ReadArmoredKeyRing(strings.NewReader(o.Verify.ArmoredKeyRing)); err != nil {
			return nil, fmt.Errorf("open %s: Verify.ArmoredKeyRing: %w", Redact(o.URL), err)
		}
	}
	auth, err := authMethod(o.URL, o.Auth)
	if err != nil {
		return nil, err
	}
	r := &Repo{opts: o, follow: f, auth: auth, scrub: newScrubber(o.URL, o.Auth),
		log: logger(o.Logger), where: Redact(o.URL)}
	if err := r.openDir(); err != nil {
		return nil, err
	}
	if _, err := r.Fetch(ctx); err != nil {
		return r, err
	}
	return r, nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// openDir reuses the clone in Dir when it follows the same remote with the
// same shallowness, and clears and re-initialises it otherwise. It only
// ever clears a bare repository: a directory holding anything else is left
// alone and reported.
func (r *Repo) openDir() error {
	dir := r.opts.Dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("open %s: %w", r.where, err)
	}
	repo, err := git.Open(storage(dir), nil)
	switch {
	case err == nil:
		why, err := r.reuse(repo)
		if err != nil {
			return err
		}
		if why == "" {
			r.git = repo
			return r.resume()
		}
		r.log.Info("re-cloning", "dir", dir, "url", r.where, "reason", why)
		if err := clearDir(dir); err != nil {
			return fmt.Errorf("open %s: clear %s: %w", r.where, dir, err)
		}
	case errors.Is(err, git.ErrRepositoryNotExists):
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			return fmt.Errorf("open %s: %s is not empty and holds no git repository; refusing to clear it", r.where, dir)
		}
	default:
		return fmt.Errorf("open %s: %s: %w", r.where, dir, err)
	}
	r.git, err = r.initDir(dir)
	return err
}

// resume takes up the head last fetched into a reused clone, so Head works
// before the first Fetch succeeds. When the clone followed another ref, it
// records the new one instead and starts with no head.
func (r *Repo) resume() error {
	cfg, err := r.git.Config()
	if err != nil {
		return fmt.Errorf("open %s: read config in %s: %w", r.where, r.opts.Dir, err)
	}
	origin := cfg.Remotes["origin"]
	if len(origin.Fetch) == 1 && origin.Fetch[0] == r.follow.spec {
		if h, err := r.headHash(); err == nil {
			if c, err := object.GetCommit(r.git.Storer, h); err == nil {
				r.setHead(toCommit(c))
			}
		}
		return nil
	}
	origin.Fetch = []config.RefSpec{r.follow.spec}
	if err := r.git.SetConfig(cfg); err != nil {
		return fmt.Errorf("open %s: write config in %s: %w", r.where, r.opts.Dir, err)
	}
	return nil
}

func (r *Repo) setHead(c Commit) {
	r.headMu.Lock()
	defer r.headMu.Unlock()
	r.head = &c
}

func (r *Repo) cachedHead() (Commit, bool) {
	r.headMu.Lock()
	defer r.headMu.Unlock()
	if r.head == nil {
		return Commit{}, false
	}
	return *r.head, true
}

// reuse returns why the repository in Dir cannot be reused, "" when it can.
func (r *Repo) reuse(repo *git.Repository) (string, error) {
	cfg, err := repo.Config()
	if err != nil {
		return "", fmt.Errorf("open %s: read config in %s: %w", r.where, r.opts.Dir, err)
	}
	if !cfg.Core.IsBare {
		return "", fmt.Errorf("open %s: %s holds a work tree, not a clone made by berth; refusing to clear it", r.where, r.opts.Dir)
	}
	origin, ok := cfg.Remotes["origin"]
	if !ok || len(origin.URLs) == 0 {
		return "no origin remote", nil
	}
	if origin.URLs[0] != Redact(r.opts.URL) {
		return "origin is " + Redact(origin.URLs[0]), nil
	}
	shallow, err := repo.Storer.Shallow()
	if err != nil {
		return "", fmt.Errorf("open %s: read shallow file in %s: %w", r.where, r.opts.Dir, err)
	}
	if (len(shallow) > 0) != (r.opts.Depth > 0) {
		return fmt.Sprintf("depth changed to %d", r.opts.Depth), nil
	}
	return "", nil
}

// largeObject is the size above which go-git reads a packed object from
// the pack as it is consumed instead of inflating it whole into memory: a
// large file in a stack is streamed from the pack to its export.
const largeObject = 1 << 20

// storage is the bare clone at dir, reading large objects lazily.
func storage(dir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRUDefault(),
		filesystem.Options{LargeObjectThreshold: largeObject})
}

// initDir makes an empty bare repository whose origin is the redacted URL:
// the real one, which may hold credentials, is passed on each fetch and
// never written to disk.
func (r *Repo) initDir(dir string) (*git.Repository, error) {
	repo, err := git.Init(storage(dir), nil)
	if err != nil {
		return nil, fmt.Errorf("open %s: init %s: %w", r.where, dir, err)
	}
	_, err = repo.CreateRemote(&config.RemoteConfig{
		Name:  "origin",
		URLs:  []string{Redact(r.opts.URL)},
		Fetch: []config.RefSpec{r.follow.spec},
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", r.where, err)
	}
	return repo, nil
}

// clearDir empties dir but keeps it: it may be a mount point.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// OpenLocal opens an existing repository, a work tree (found from any
// folder inside it) or a bare one, for reading. Fetch on it fails.
func OpenLocal(path string) (*Repo, error) {
	// Without DetectDotGit a bare repository at path is found; with it, a
	// work tree is found from any folder inside.
	repo, err := git.PlainOpenWithOptions(path, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.PlainOpenWithOptions(path, &git.PlainOpenOptions{
			DetectDotGit:          true,
			EnableDotGitCommonDir: true,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Repo{git: repo, local: true, where: path, log: logger(nil)}, nil
}
