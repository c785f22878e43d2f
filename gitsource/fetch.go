package gitsource

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Fetch brings the followed ref up to date and returns its commit. A ref
// that moved to a commit that does not descend from the previous one
// (force-push) is followed, with a warning. A pinned commit already present
// is returned without using the network: it cannot change.
func (r *Repo) Fetch(ctx context.Context) (Commit, error) {
	if r.local {
		return Commit{}, fmt.Errorf("fetch %s: %w", r.where, ErrReadOnly)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var before plumbing.Hash
	if c, ok := r.cachedHead(); ok {
		before = plumbing.NewHash(c.Hash)
	}
	if r.follow.pin != "" {
		if h, err := r.resolvePin(); err == nil {
			return r.moveHead(before, h)
		}
	}
	if err := r.fetch(ctx); err != nil {
		return Commit{}, err
	}
	h, err := r.resolveFollowed()
	if err != nil {
		return Commit{}, err
	}
	return r.moveHead(before, h)
}

func (r *Repo) fetch(ctx context.Context) error {
	err := r.git.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RemoteURL:  r.opts.URL,
		RefSpecs:   []config.RefSpec{r.follow.spec},
		Depth:      r.opts.Depth,
		Auth:       r.auth,
		Tags:       git.NoTags,
		Force:      true,
	})
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return r.fetchError(err)
}

// resolveFollowed peels the fetched ref (or finds the pinned commit).
func (r *Repo) resolveFollowed() (plumbing.Hash, error) {
	if r.follow.pin != "" {
		h, err := r.resolvePin()
		if err != nil {
			hint := ""
			if r.opts.Depth > 0 {
				hint = fmt.Sprintf(" within depth %d", r.opts.Depth)
			}
			return plumbing.ZeroHash, fmt.Errorf("fetch %s: commit %s %w on any branch%s",
				r.where, r.follow.pin, ErrRefNotFound, hint)
		}
		return h, nil
	}
	ref, err := r.git.Reference(r.follow.local, true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch %s: %s %w", r.where, r.follow.label, ErrRefNotFound)
	}
	c, err := r.peel(ref.Hash())
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch %s: %s: %w", r.where, r.follow.label, err)
	}
	return c.Hash, nil
}

func (r *Repo) resolvePin() (plumbing.Hash, error) {
	h, err := r.git.ResolveRevision(plumbing.Revision(r.follow.pin))
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return *h, nil
}

// moveHead points HEAD (detached) at h, warns when that is not a
// fast-forward from before, and returns h's metadata.
func (r *Repo) moveHead(before, h plumbing.Hash) (Commit, error) {
	if cur, err := r.headHash(); err != nil || cur != h {
		err := r.git.Storer.SetReference(plumbing.NewHashReference(plumbing.HEAD, h))
		if err != nil {
			return Commit{}, fmt.Errorf("fetch %s: set HEAD: %w", r.where, err)
		}
	}
	if !before.IsZero() && before != h {
		desc, known := descends(r.git.Storer, before, h)
		switch {
		case !known:
			r.log.Debug("cannot tell if the new head descends from the old one (shallow history)",
				"ref", r.follow.ref, "from", before.String(), "to", h.String())
		case !desc:
			r.log.Warn("ref was rewritten (force-push): following the new head",
				"ref", r.follow.ref, "from", before.String(), "to", h.String(), "url", r.where)
		}
	}
	c, err := object.GetCommit(r.git.Storer, h)
	if err != nil {
		return Commit{}, fmt.Errorf("fetch %s: %w", r.where, err)
	}
	r.setHead(toCommit(c))
	return toCommit(c), nil
}

// skew is how much older than the old head a commit between the two heads
// may look (clocks disagree). It bounds the walk for a force-push to about
// that much history instead of all of it; a wrong answer costs at most a
// spurious or missing warning.
const skew = 24 * time.Hour

// descends reports whether to descends from from. known is false when the
// history needed to tell is not here (shallow clone).
func descends(s storer.EncodedObjectStorer, from, to plumbing.Hash) (yes, known bool) {
	fc, err := object.GetCommit(s, from)
	if err != nil {
		return false, false
	}
	cutoff := fc.Committer.When.Add(-skew)
	seen := map[plumbing.Hash]bool{to: true}
	queue := []plumbing.Hash{to}
	known = true
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if h == from {
			return true, true
		}
		c, err := object.GetCommit(s, h)
		if err != nil {
			known = false
			continue
		}
		if c.Committer.When.Before(cutoff) {
			continue
		}
		for _, p := range c.ParentHashes {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false, known
}
