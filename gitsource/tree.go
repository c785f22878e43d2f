package gitsource

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Head returns the followed ref's commit as last fetched (for OpenLocal,
// HEAD), without using the network. It does not wait for a fetch in flight.
func (r *Repo) Head() (Commit, error) {
	if !r.local {
		if c, ok := r.cachedHead(); ok {
			return c, nil
		}
		return Commit{}, fmt.Errorf("%s: no commit fetched yet", r.where)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h, err := r.headHash()
	if err != nil {
		return Commit{}, fmt.Errorf("%s: HEAD: %w", r.where, err)
	}
	c, err := object.GetCommit(r.git.Storer, h)
	if err != nil {
		return Commit{}, fmt.Errorf("%s: HEAD: %w", r.where, err)
	}
	return toCommit(c), nil
}

func (r *Repo) headHash() (plumbing.Hash, error) {
	ref, err := r.git.Reference(plumbing.HEAD, true)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	c, err := r.peel(ref.Hash())
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return c.Hash, nil
}

// peel follows annotated tags down to the commit.
func (r *Repo) peel(h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		obj, err := r.git.Object(plumbing.AnyObject, h)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case *object.Commit:
			return o, nil
		case *object.Tag:
			h = o.Target
		default:
			return nil, fmt.Errorf("%s is a %s, not a commit", h, obj.Type())
		}
	}
	return nil, fmt.Errorf("%s: too many nested tags", h)
}

// Commit returns the metadata of a commit (any revision Resolve accepts).
func (r *Repo) Commit(hash string) (Commit, error) {
	return r.Resolve(hash)
}

// Resolve accepts a full or short hash, a branch, a tag, HEAD or any
// revision go-git parses (HEAD~2, main^) and returns its commit.
func (r *Repo) Resolve(rev string) (Commit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.commit(rev)
	if err != nil {
		return Commit{}, err
	}
	return toCommit(c), nil
}

func (r *Repo) commit(rev string) (*object.Commit, error) {
	if rev == "" {
		return nil, errors.New("empty revision")
	}
	h, err := r.git.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("revision %q %w in %s", rev, ErrRefNotFound, r.where)
	}
	return r.peel(*h)
}

func toCommit(c *object.Commit) Commit {
	return Commit{
		Hash:    c.Hash.String(),
		Author:  c.Author.Name,
		Email:   c.Author.Email,
		Message: strings.TrimRight(c.Message, "\n"),
		Time:    c.Committer.When,
	}
}

// cleanDir turns a slash path relative to the tree root into the form
// go-git wants: "" for the root, no leading "./" or "/", and no way out.
func cleanDir(p string) (string, error) {
	c := path.Clean(strings.TrimLeft(p, "/"))
	switch {
	case c == ".":
		return "", nil
	case c == ".." || strings.HasPrefix(c, "../"):
		return "", fmt.Errorf("path %q leaves the repository", p)
	}
	return c, nil
}

// tree returns the tree of dir at rev; fs.ErrNotExist when dir is absent.
func (r *Repo) tree(rev, dir string) (*object.Tree, *object.Commit, error) {
	c, err := r.commit(rev)
	if err != nil {
		return nil, nil, err
	}
	t, err := c.Tree()
	if err != nil {
		return nil, nil, fmt.Errorf("commit %s: %w", Short(c.Hash.String()), err)
	}
	d, err := cleanDir(dir)
	if err != nil || d == "" {
		return t, c, err
	}
	sub, err := t.Tree(d)
	if errors.Is(err, object.ErrDirectoryNotFound) {
		return nil, c, fmt.Errorf("%s at %s: %w", d, Short(c.Hash.String()), fs.ErrNotExist)
	}
	if err != nil {
		return nil, c, fmt.Errorf("%s at %s: %w", d, Short(c.Hash.String()), err)
	}
	return sub, c, nil
}

// Dirs returns the names of the folders directly inside dir at a commit,
// sorted; none when dir does not exist there.
func (r *Repo) Dirs(hash, dir string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, _, err := r.tree(hash, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, e := range t.Entries {
		if e.Mode == filemode.Dir {
			names = append(names, e.Name)
		}
		if len(names) > MaxDirs {
			return nil, fmt.Errorf("%s: %w", dir, overBudget("folders", MaxDirs))
		}
	}
	sort.Strings(names)
	return names, nil
}

// MaxReadFile bounds what ReadFile reads: it reads small files berth
// decodes itself (the repo's lint policy), never a stack's data.
const MaxReadFile = 1 << 20

// ReadFile returns a file's content at a commit. A symlink is followed when
// its target stays inside the repository. An absent file (or a folder)
// gives an error that is fs.ErrNotExist; one larger than MaxReadFile an
// error that is ErrTooLarge.
func (r *Repo) ReadFile(hash, name string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, c, err := r.tree(hash, "")
	if err != nil {
		return nil, err
	}
	p, err := cleanDir(name)
	if err != nil {
		return nil, err
	}
	b, err := readBlob(r.git.Storer, t, p)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", name, Short(c.Hash.String()), err)
	}
	return b, nil
}

func readBlob(s storer.EncodedObjectStorer, t *object.Tree, p string) ([]byte, error) {
	h, err := findBlob(s, t, p)
	if err != nil {
		return nil, err
	}
	return blobBytes(s, h)
}

// findBlob is the blob of the file at p, following symlinks that stay
// inside the repository.
func findBlob(s storer.EncodedObjectStorer, t *object.Tree, p string) (plumbing.Hash, error) {
	for range 40 {
		e, err := findEntry(s, t, p)
		if err != nil || !e.Mode.IsFile() {
			return plumbing.ZeroHash, fs.ErrNotExist
		}
		if e.Mode != filemode.Symlink {
			return e.Hash, nil
		}
		b, err := blobBytes(s, e.Hash)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		target := string(b)
		if path.IsAbs(target) {
			return plumbing.ZeroHash, fmt.Errorf("symlink to %s leaves the repository: %w", target, fs.ErrNotExist)
		}
		p = path.Join(path.Dir(p), target)
		if p == ".." || strings.HasPrefix(p, "../") {
			return plumbing.ZeroHash, fmt.Errorf("symlink to %s leaves the repository: %w", target, fs.ErrNotExist)
		}
	}
	return plumbing.ZeroHash, errors.New("too many levels of symbolic links")
}

// findEntry is the entry at slash path p. Unlike go-git's Tree.FindEntry it
// takes any name Git stores (a newline, an escape), so that a caller can
// find such a folder's files and report its name.
func findEntry(s storer.EncodedObjectStorer, t *object.Tree, p string) (*object.TreeEntry, error) {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		var e *object.TreeEntry
		for j := range t.Entries {
			if t.Entries[j].Name == part {
				e = &t.Entries[j]
				break
			}
		}
		switch {
		case e == nil:
			return nil, fs.ErrNotExist
		case i == len(parts)-1:
			return e, nil
		case e.Mode != filemode.Dir:
			return nil, fs.ErrNotExist
		}
		sub, err := object.GetTree(s, e.Hash)
		if err != nil {
			return nil, err
		}
		t = sub
	}
	return nil, fs.ErrNotExist
}

// FileSize is the size of a file at a commit, without reading it (symlinks
// followed as ReadFile follows them): a caller can refuse a file too large
// to read. An absent file (or a folder) gives an error that is
// fs.ErrNotExist.
func (r *Repo) FileSize(hash, name string) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, c, err := r.tree(hash, "")
	if err != nil {
		return 0, err
	}
	p, err := cleanDir(name)
	if err != nil {
		return 0, err
	}
	h, err := findBlob(r.git.Storer, t, p)
	if err == nil {
		var size int64
		if size, err = r.git.Storer.EncodedObjectSize(h); err == nil {
			return size, nil
		}
	}
	return 0, fmt.Errorf("read %s at %s: %w", name, Short(c.Hash.String()), err)
}

func blobBytes(s storer.EncodedObjectStorer, h plumbing.Hash) ([]byte, error) {
	blob, err := object.GetBlob(s, h)
	if err != nil {
		return nil, err
	}
	if blob.Size > MaxReadFile {
		return nil, fmt.Errorf("larger than %d bytes: %w", MaxReadFile, ErrTooLarge)
	}
	rd, err := blob.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// Changed returns the sorted paths that differ between two commits: added,
// deleted, modified (content or mode), and both sides of a rename. With
// from == "" it returns every path in to.
func (r *Repo) Changed(from, to string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	toTree, _, err := r.tree(to, "")
	if err != nil {
		return nil, err
	}
	if from == "" {
		return allPaths(toTree)
	}
	fromTree, _, err := r.tree(from, "")
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	if err := diffTrees(r.git.Storer, fromTree, toTree, "", set); err != nil {
		return nil, fmt.Errorf("diff %s..%s: %w", from, to, err)
	}
	paths := make([]string, 0, len(set))
	for p := range set {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths, nil
}

// diffTrees adds to set the file paths that differ between two trees,
// descending only into folders whose hashes differ. It takes any name Git
// stores (go-git's own diff refuses a name with a newline), so one oddly
// named folder does not hide every other change.
func diffTrees(s storer.EncodedObjectStorer, a, b *object.Tree, prefix string, set map[string]bool) error {
	entries := func(t *object.Tree) map[string]object.TreeEntry {
		m := map[string]object.TreeEntry{}
		if t != nil {
			for _, e := range t.Entries {
				m[e.Name] = e
			}
		}
		return m
	}
	ea, eb := entries(a), entries(b)
	names := map[string]bool{}
	for n := range ea {
		names[n] = true
	}
	for n := range eb {
		names[n] = true
	}
	for n := range names {
		x, inA := ea[n]
		y, inB := eb[n]
		if inA && inB && x.Hash == y.Hash && x.Mode == y.Mode {
			continue
		}
		var ta, tb *object.Tree
		var err error
		if inA && x.Mode == filemode.Dir {
			if ta, err = object.GetTree(s, x.Hash); err != nil {
				return err
			}
		} else if inA {
			set[prefix+n] = true
		}
		if inB && y.Mode == filemode.Dir {
			if tb, err = object.GetTree(s, y.Hash); err != nil {
				return err
			}
		} else if inB {
			set[prefix+n] = true
		}
		if ta != nil || tb != nil {
			if err := diffTrees(s, ta, tb, prefix+n+"/", set); err != nil {
				return err
			}
		}
	}
	return nil
}

func allPaths(t *object.Tree) ([]string, error) {
	w := object.NewTreeWalker(t, true, nil)
	defer w.Close()
	paths := []string{}
	for {
		name, e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if e.Mode != filemode.Dir {
			paths = append(paths, name)
		}
	}
	sort.Strings(paths)
	return paths, nil
}
