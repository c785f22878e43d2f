package gitsource

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// entry is a file, executable or symlink to write.
type entry struct {
	mode   filemode.FileMode
	hash   plumbing.Hash
	target string // for symlinks
}

// snapshot is what a tree asks dest to hold, by slash path.
type snapshot struct {
	files map[string]entry
	dirs  map[string]bool
}

// Export makes dest hold exactly the files under dir at a commit. Files
// whose content changed are rewritten in place (same inode, so bind mounts
// of single files see the change); files and folders not in the commit are
// removed; the executable bit is kept; symlinks are written as symlinks and
// refused, before anything is written, when they point outside dest.
func (r *Repo) Export(hash, dir, dest string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, c, err := r.tree(hash, dir)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	snap, err := readSnapshot(r.git.Storer, t)
	if err != nil {
		return fmt.Errorf("export %s at %s: %w", dir, short(c.Hash), err)
	}
	if err := makeDest(dest); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := prune(dest, snap); err != nil {
		return fmt.Errorf("export to %s: %w", dest, err)
	}
	if err := r.write(dest, snap); err != nil {
		return fmt.Errorf("export %s at %s to %s: %w", dir, short(c.Hash), dest, err)
	}
	return nil
}

// makeDest creates dest with mode 0755 whatever the umask; an existing
// dest keeps its mode.
func makeDest(dest string) error {
	if _, err := os.Stat(dest); err == nil {
		return nil
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	return os.Chmod(dest, 0o755)
}

func readSnapshot(s storer.EncodedObjectStorer, t *object.Tree) (snapshot, error) {
	snap := snapshot{files: map[string]entry{}, dirs: map[string]bool{}}
	links := map[string]string{}
	w := object.NewTreeWalker(t, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return snap, err
		}
		if !safeName(name) {
			return snap, fmt.Errorf("unsafe path %q in tree", name)
		}
		switch {
		case e.Mode == filemode.Dir:
			snap.dirs[name] = true
		case e.Mode == filemode.Symlink:
			b, err := blobBytes(s, e.Hash)
			if err != nil {
				return snap, fmt.Errorf("%s: %w", name, err)
			}
			links[name] = string(b)
			snap.files[name] = entry{mode: e.Mode, hash: e.Hash, target: string(b)}
		case e.Mode.IsFile():
			snap.files[name] = entry{mode: e.Mode, hash: e.Hash}
		}
		// Submodules have no content here and are skipped.
	}
	for name, target := range links {
		if escapes(links, name) {
			return snap, fmt.Errorf("symlink %s -> %s points outside the export", name, target)
		}
	}
	return snap, nil
}

func safeName(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." || strings.ContainsRune(part, 0) {
			return false
		}
	}
	return true
}

// escapes resolves the link at name one component at a time, following the
// other links of the tree as the kernel would, and reports whether the
// resolution ever leaves the root (or loops). A purely lexical check would
// miss "a/../x" where a is itself a link to ".".
func escapes(links map[string]string, name string) bool {
	var stack []string
	if d := path.Dir(name); d != "." {
		stack = strings.Split(d, "/")
	}
	target := links[name]
	if path.IsAbs(target) {
		return true
	}
	queue := strings.Split(target, "/")
	for hops := 0; len(queue) > 0; {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return true
			}
			stack = stack[:len(stack)-1]
			continue
		}
		stack = append(stack, c)
		if t, ok := links[strings.Join(stack, "/")]; ok {
			if hops++; hops > 40 || path.IsAbs(t) {
				return true
			}
			stack = stack[:len(stack)-1]
			queue = append(strings.Split(t, "/"), queue...)
		}
	}
	return false
}

// prune removes from dest whatever the snapshot does not hold with the same
// type, so that writing afterwards never goes through a stale symlink.
func prune(dest string, snap snapshot) error {
	return filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dest {
			return nil
		}
		rel, err := filepath.Rel(dest, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		e, isFile := snap.files[rel]
		var keep bool
		switch {
		case d.IsDir():
			keep = snap.dirs[rel]
		case d.Type()&fs.ModeSymlink != 0:
			keep = isFile && e.mode == filemode.Symlink
		case d.Type().IsRegular():
			keep = isFile && e.mode != filemode.Symlink
		}
		if keep {
			return nil
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
}

func (r *Repo) write(dest string, snap snapshot) error {
	names := make([]string, 0, len(snap.files))
	for n := range snap.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := snap.files[n]
		p := filepath.Join(dest, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		var err error
		if e.mode == filemode.Symlink {
			err = writeLink(p, e.target)
		} else {
			err = r.writeFile(p, e)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	return nil
}

func writeLink(p, target string) error {
	if old, err := os.Readlink(p); err == nil {
		if old == target {
			return nil
		}
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	return os.Symlink(target, p)
}

// writeFile leaves an identical file alone, rewrites a changed one in place
// (truncate and write, keeping its inode) and creates a missing one.
func (r *Repo) writeFile(p string, e entry) error {
	perm := fs.FileMode(0o644)
	if e.mode == filemode.Executable {
		perm = 0o755
	}
	fi, err := os.Lstat(p)
	switch {
	case err != nil:
		if err := r.copyBlob(p, e.hash, os.O_WRONLY|os.O_CREATE|os.O_EXCL); err != nil {
			return err
		}
		return os.Chmod(p, perm) // whatever the umask
	case !sameContent(p, e.hash):
		if err := r.copyBlob(p, e.hash, os.O_WRONLY|os.O_TRUNC); err != nil {
			return err
		}
	}
	if fi.Mode().Perm() != perm {
		return os.Chmod(p, perm)
	}
	return nil
}

// sameContent compares a file on disk with a blob by hashing it as git
// would, so an unchanged file costs one read and no blob decompression.
func sameContent(p string, h plumbing.Hash) bool {
	b, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	return plumbing.ComputeHash(plumbing.BlobObject, b) == h
}

func (r *Repo) copyBlob(p string, h plumbing.Hash, flag int) (err error) {
	blob, err := object.GetBlob(r.git.Storer, h)
	if err != nil {
		return err
	}
	rd, err := blob.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	f, err := os.OpenFile(p, flag, 0o644)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	_, err = io.Copy(f, rd)
	return err
}
