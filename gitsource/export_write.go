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

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Exports are written so that nothing a container can reach ever makes
// berth write somewhere else: each one goes into a fresh temporary sibling,
// created under an os.Root (no path may leave it) with O_EXCL (no existing
// file or symlink is ever opened for writing), synced, and renamed into
// place. A name that exists is complete and is never written again.

// Export is a folder or file that ExportTree or ExportPath made or found.
type Export struct {
	Path   string // where it is on disk
	Hash   string // the Git object it holds: a tree, or a blob
	Folder bool
	Reused bool // it was there already: nothing was written
}

// ExportTree writes dir at a commit into parent/<tree hash>/<dir's name>
// and returns that folder. When parent/<tree hash> exists it is complete
// and is reused as it is. parent and the folder above it are created with
// mode 0700 and must be plain folders owned by this process's user.
func (r *Repo) ExportTree(hash, dir, parent string) (Export, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	src, err := r.openExport(hash, dir, parent)
	if err != nil {
		return Export{}, err
	}
	defer src.root.Close()
	t, c, snap, root := src.tree, src.commit, src.snap, src.root
	base := path.Base("/" + dir)
	if base == "/" {
		base = "repo"
	}
	name := t.Hash.String()
	reused, err := r.writeDir(root, name, base, snap)
	if err != nil {
		return Export{}, fmt.Errorf("export %s at %s to %s: %w", dir, Short(c.Hash.String()), parent, err)
	}
	return Export{Path: filepath.Join(parent, name, base), Hash: name, Folder: true, Reused: reused}, nil
}

// ExportPath writes the file or folder rel inside dir at a commit into
// parent, named by its Git object: parent/<tree hash> for a folder,
// parent/<blob hash> for a file (with "-x" for an executable one). Symlinks
// are judged against dir, as ExportTree judges them, and copied as they are.
// An existing copy is reused as it is.
func (r *Repo) ExportPath(hash, dir, rel, parent string) (Export, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	src, err := r.openExport(hash, dir, parent)
	if err != nil {
		return Export{}, err
	}
	defer src.root.Close()
	t, c, snap, root := src.tree, src.commit, src.snap, src.root
	if rel == "" || rel == "." {
		snap.dirs[""] = t.Hash // the folder itself
		rel = ""
	}
	e, err := r.writePath(root, snap, rel)
	if err != nil {
		return Export{}, fmt.Errorf("export %s at %s to %s: %w", path.Join(dir, rel), Short(c.Hash.String()), parent, err)
	}
	e.Path = filepath.Join(parent, e.Path)
	return e, nil
}

// exportSource is what both exports start from: dir's tree at a commit,
// its snapshot (symlinks already judged), and parent opened as a root.
type exportSource struct {
	tree   *object.Tree
	commit *object.Commit
	snap   snapshot
	root   *os.Root
}

// openExport reads dir at a commit and opens parent; the caller holds r.mu
// and closes root.
func (r *Repo) openExport(hash, dir, parent string) (exportSource, error) {
	t, c, err := r.tree(hash, dir)
	if err != nil {
		return exportSource{}, fmt.Errorf("export: %w", err)
	}
	snap, err := readSnapshot(r.git.Storer, t)
	if err != nil {
		return exportSource{}, fmt.Errorf("export %s at %s: %w", dir, Short(c.Hash.String()), err)
	}
	root, err := openPrivate(parent)
	if err != nil {
		return exportSource{}, fmt.Errorf("export %s: %w", dir, err)
	}
	return exportSource{tree: t, commit: c, snap: snap, root: root}, nil
}

// writePath copies one entry of a snapshot; Path comes back relative.
func (r *Repo) writePath(root *os.Root, snap snapshot, rel string) (Export, error) {
	if h, ok := snap.dirs[rel]; ok {
		name := h.String()
		part := snap
		if rel != "" {
			part = snap.sub(rel)
		}
		reused, err := r.writeDir(root, name, "", part)
		return Export{Path: name, Hash: name, Folder: true, Reused: reused}, err
	}
	e, ok := snap.files[rel]
	if !ok {
		return Export{}, fmt.Errorf("%s: %w", rel, fs.ErrNotExist)
	}
	if e.mode == filemode.Symlink {
		return Export{}, fmt.Errorf("%s is a symlink: resolve it first", rel)
	}
	name := e.hash.String()
	if e.mode == filemode.Executable {
		name += "-x"
	}
	reused, err := r.writeCopy(root, name, e)
	return Export{Path: name, Hash: e.hash.String(), Reused: reused}, err
}

// Export makes dest hold exactly dir's files at a commit, written afresh:
// whatever dest held is removed first. It suits private scratch folders
// (berth diff); a deploying host uses ExportTree.
func (r *Repo) Export(hash, dir, dest string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, c, err := r.tree(hash, dir)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	snap, err := readSnapshot(r.git.Storer, t)
	if err != nil {
		return fmt.Errorf("export %s at %s: %w", dir, Short(c.Hash.String()), err)
	}
	parent := filepath.Dir(dest)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.RemoveAll(dest); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	root, err := os.OpenRoot(parent)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer root.Close()
	if _, err := r.writeDir(root, filepath.Base(dest), "", snap); err != nil {
		return fmt.Errorf("export %s at %s to %s: %w", dir, Short(c.Hash.String()), dest, err)
	}
	return nil
}

// writeDir makes root/name hold the snapshot (under the folder base when
// base is set), unless root/name exists: then it reports true.
func (r *Repo) writeDir(root *os.Root, name, base string, snap snapshot) (bool, error) {
	if fi, err := root.Lstat(name); err == nil {
		if !fi.IsDir() {
			return false, fmt.Errorf("%s exists and is not a folder", name)
		}
		return true, nil
	}
	tmp := ".tmp-" + name
	if err := root.RemoveAll(tmp); err != nil { // left by an interrupted export
		return false, err
	}
	if err := root.Mkdir(tmp, 0o700); err != nil {
		return false, err
	}
	sub, err := root.OpenRoot(tmp)
	if err != nil {
		return false, err
	}
	err = r.writeSnapshot(sub, base, snap)
	err = errors.Join(err, sub.Close())
	if err == nil {
		err = root.Chmod(tmp, 0o755)
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err == nil {
		err = syncDir(root, ".")
	}
	if err != nil {
		_ = root.RemoveAll(tmp)
		return false, err
	}
	return false, nil
}

// writeCopy makes root/name a copy of one file, unless it exists.
func (r *Repo) writeCopy(root *os.Root, name string, e entry) (bool, error) {
	if fi, err := root.Lstat(name); err == nil {
		if !fi.Mode().IsRegular() {
			return false, fmt.Errorf("%s exists and is not a file", name)
		}
		return true, nil
	}
	tmp := ".tmp-" + name
	if err := root.RemoveAll(tmp); err != nil {
		return false, err
	}
	err := r.writeFile(root, tmp, e)
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err == nil {
		err = syncDir(root, ".")
	}
	if err != nil {
		_ = root.Remove(tmp)
		return false, err
	}
	return false, nil
}

// writeSnapshot writes a snapshot into an empty root, folders first.
func (r *Repo) writeSnapshot(root *os.Root, base string, snap snapshot) error {
	at := func(n string) string { return path.Join(base, n) }
	dirs := make([]string, 0, len(snap.dirs)+1)
	if base != "" {
		dirs = append(dirs, "")
	}
	for d := range snap.dirs {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs) // a parent sorts before what it holds
	for _, d := range dirs {
		if err := root.Mkdir(at(d), 0o755); err != nil {
			return err
		}
		if err := root.Chmod(at(d), 0o755); err != nil { // whatever the umask
			return err
		}
	}
	names := make([]string, 0, len(snap.files))
	for n := range snap.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := snap.files[n]
		var err error
		if e.mode == filemode.Symlink {
			err = root.Symlink(e.target, at(n))
		} else {
			err = r.writeFile(root, at(n), e)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	for _, d := range append(dirs, "") {
		if err := syncDir(root, at(d)); err != nil {
			return err
		}
	}
	return nil
}

// writeFile creates a new file with a blob's content: O_EXCL and
// O_NOFOLLOW, so an existing file or symlink is never written through.
func (r *Repo) writeFile(root *os.Root, name string, e entry) (err error) {
	perm := fs.FileMode(0o644)
	if e.mode == filemode.Executable {
		perm = 0o755
	}
	blob, err := object.GetBlob(r.git.Storer, e.hash)
	if err != nil {
		return err
	}
	if blob.Size > MaxExportFile {
		return fmt.Errorf("%s: %w", name, overBudget("bytes in one file", MaxExportFile))
	}
	rd, err := blob.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	// Streamed, never held whole; the limit keeps the copy to the size
	// the object's header states.
	if _, err := io.Copy(f, io.LimitReader(rd, blob.Size)); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil { // on the open file: no path to follow
		return err
	}
	return f.Sync()
}

func syncDir(root *os.Root, name string) error {
	if name == "" {
		name = "."
	}
	d, err := root.Open(name)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// openPrivate opens dir as a root after making sure that dir and the folder
// above it are berth's own: created with mode 0700 when missing, refused
// when they are symlinks or owned by another user, and closed to others.
func openPrivate(dir string) (*os.Root, error) {
	if err := ensurePrivate(filepath.Dir(dir)); err != nil {
		return nil, err
	}
	if err := ensurePrivate(dir); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	// The folder opened must be the one checked, not one swapped in since.
	opened, err1 := root.Stat(".")
	checked, err2 := os.Lstat(dir)
	if err1 != nil || err2 != nil || !os.SameFile(opened, checked) {
		root.Close()
		return nil, fmt.Errorf("%s changed while it was opened", dir)
	}
	return root, nil
}

// ensurePrivate creates dir with mode 0700 when it is missing and refuses
// it when it is not a folder owned by this process's user.
func ensurePrivate(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symlink: berth writes exports only into a folder of its own; remove it", dir)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a folder; remove it", dir)
	}
	if uid, ok := owner(fi); ok && uid != os.Geteuid() {
		return fmt.Errorf("%s is owned by uid %d, not by berth's user (uid %d): remove it, or chown it to berth's user", dir, uid, os.Geteuid())
	}
	if fi.Mode().Perm() != 0o700 {
		return os.Chmod(dir, 0o700) // a folder from an older berth, or a umask
	}
	return nil
}

// TreeHash is the hash of dir's tree at a commit: the name ExportTree gives
// its export.
func (r *Repo) TreeHash(hash, dir string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, _, err := r.tree(hash, dir)
	if err != nil {
		return "", err
	}
	return t.Hash.String(), nil
}
