package gitsource

import (
	"fmt"
	"io"
	"path"
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

// snapshot is what a tree holds, by slash path.
type snapshot struct {
	files map[string]entry
	dirs  map[string]plumbing.Hash // each sub-folder's tree hash
}

// readSnapshot lists a tree and refuses, before anything is written, a
// symlink that resolves outside it.
func readSnapshot(s storer.EncodedObjectStorer, t *object.Tree) (snapshot, error) {
	snap := snapshot{files: map[string]entry{}, dirs: map[string]plumbing.Hash{}}
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
		if len(snap.files)+len(snap.dirs) >= MaxTreeEntries {
			return snap, overBudget("files and folders", MaxTreeEntries)
		}
		if !safeName(name) {
			return snap, &UnsafeTreeError{Path: name, Err: fmt.Errorf("unsafe path %q in tree", name)}
		}
		switch {
		case e.Mode == filemode.Dir:
			snap.dirs[name] = e.Hash
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
			return snap, &UnsafeTreeError{Path: name, Err: fmt.Errorf("symlink %s -> %s points outside the export", name, target)}
		}
	}
	return snap, nil
}

// sub is the part of the snapshot under folder rel, relative to it.
func (s snapshot) sub(rel string) snapshot {
	out := snapshot{files: map[string]entry{}, dirs: map[string]plumbing.Hash{}}
	prefix := rel + "/"
	for n, e := range s.files {
		if strings.HasPrefix(n, prefix) {
			out.files[strings.TrimPrefix(n, prefix)] = e
		}
	}
	for n, h := range s.dirs {
		if strings.HasPrefix(n, prefix) {
			out.dirs[strings.TrimPrefix(n, prefix)] = h
		}
	}
	return out
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
