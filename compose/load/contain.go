package load

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A commit decides what a stack's files name, and berth reads those files
// as root. So every file a stack names (compose files, include and extends
// files, env files, env templates, sops files, secret and config files,
// build contexts, relative bind-mount sources) must resolve, symlinks
// followed, inside the stack folder or inside a host path the host grants
// (LoadOptions.HostPaths). It must be a regular file of bounded size, or a
// folder where a folder is meant. Anything else is refused before a byte of
// it is read, naming the file, service and field that refer to it and the
// path, never the content.
//
// Absolute bind-mount sources are host paths the host policy judges; a bind
// source inside the stack folder, or written relative to it, is checked
// here, since a symlink in the folder can point anywhere.

// Size limits of the files a load reads. A stack that needs more is not
// what berth is for: Docker's own limit for swarm secrets and configs is
// 500 KiB.
const (
	// MaxStackFileSize bounds a compose file (included and extended ones
	// too), an env file, an env template and a sops env file.
	MaxStackFileSize = 1 << 20
	// MaxMountedFileSize bounds a secret or config file.
	MaxMountedFileSize = 1 << 20
)

// fileGuard decides whether a path a stack names may be used.
type fileGuard struct {
	dir    string   // the stack folder, absolute, as given
	real   string   // the stack folder, symlinks resolved
	grants []string // the host's granted paths, symlinks resolved
}

func newFileGuard(dir string, hostPaths []string) (*fileGuard, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("stack folder: %w", err)
	}
	g := &fileGuard{dir: dir, real: real}
	for _, p := range hostPaths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("host path %s is not absolute", p)
		}
		r, err := filepath.EvalSymlinks(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // a grant of nothing grants nothing
		}
		if err != nil {
			return nil, fmt.Errorf("host path %s: %w", p, err)
		}
		g.grants = append(g.grants, r)
	}
	return g, nil
}

// fileRef is what names a file: "compose.yaml: service \"api\": env_file".
type fileRef string

// refusal is a file reference berth refuses.
func (g *fileGuard) refusal(ref fileRef, path, why string) error {
	return fmt.Errorf("%s %s %s", ref, g.show(path), why)
}

// show names path by its place in the stack folder when it is in it.
func (g *fileGuard) show(path string) string {
	if within(g.dir, path) {
		if rel, err := filepath.Rel(g.dir, path); err == nil {
			return rel
		}
	}
	return path
}

// allowed reports whether a resolved path is in the stack folder or a grant.
func (g *fileGuard) allowed(real string) bool {
	if within(g.real, real) {
		return true
	}
	for _, gr := range g.grants {
		if within(gr, real) {
			return true
		}
	}
	return false
}

// file checks a file the load will read. A missing file passes: whoever
// reads it reports it (or skips it when it is optional).
func (g *fileGuard) file(ref fileRef, path string, limit int64) error {
	path = filepath.Clean(path)
	real, err := g.resolve(ref, path)
	if real == "" {
		return err
	}
	st, err := os.Stat(real)
	switch {
	case err != nil:
		return g.refusal(ref, path, "cannot be read")
	case !st.Mode().IsRegular():
		return g.refusal(ref, path, "is not a regular file")
	case st.Size() > limit:
		return g.refusal(ref, path, fmt.Sprintf("is larger than %s", sizeText(limit)))
	}
	return nil
}

// resolve follows path's symlinks and returns where it leads when that is
// allowed. It returns "" when there is nothing more to check: the path is
// refused (err says why) or does not exist yet (err is nil when its
// existing part stays inside).
func (g *fileGuard) resolve(ref fileRef, path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", g.dangling(ref, path)
	case err != nil:
		return "", g.refusal(ref, path, "cannot be resolved")
	case !g.allowed(real):
		return "", g.refusal(ref, path, "is outside the stack folder")
	}
	return real, nil
}

// dangling checks a path that does not exist: its existing part must not
// lead outside, or a file created there later would be read.
func (g *fileGuard) dangling(ref fileRef, path string) error {
	real, err := resolveExisting(path)
	if err != nil {
		return g.refusal(ref, path, "cannot be resolved")
	}
	if !g.allowed(real) {
		return g.refusal(ref, path, "is outside the stack folder")
	}
	return nil
}

// folder checks a folder the stack names, such as a build context.
func (g *fileGuard) folder(ref fileRef, path string) error {
	path = filepath.Clean(path)
	real, err := g.resolve(ref, path)
	if real == "" {
		return err
	}
	if st, err := os.Stat(real); err != nil || !st.IsDir() {
		return g.refusal(ref, path, "is not a folder")
	}
	return nil
}

// bind checks a bind-mount source in or relative to the stack folder: a
// file or a folder, or nothing yet (the engine creates a missing folder).
func (g *fileGuard) bind(ref fileRef, path string) error {
	path = filepath.Clean(path)
	real, err := resolveExisting(path)
	if err != nil {
		return g.refusal(ref, path, "cannot be resolved")
	}
	if !g.allowed(real) {
		return g.refusal(ref, path, "is outside the stack folder")
	}
	if st, err := os.Stat(real); err == nil && !st.IsDir() && !st.Mode().IsRegular() {
		return g.refusal(ref, path, "is neither a regular file nor a folder")
	}
	return nil
}

// resolveExisting resolves the symlinks of the longest existing prefix of
// path and appends the rest.
func resolveExisting(path string) (string, error) {
	rest := ""
	for p := path; ; {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(real, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// within reports whether path is root or below it; both are clean and
// absolute.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)))
}

func sizeText(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// regularFile checks a file the person running berth named: it must be a
// regular file within limit, whatever its place.
func regularFile(path string, limit int64) error {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return nil // whoever reads it reports it
	case !st.Mode().IsRegular():
		return fmt.Errorf("env file %s is not a regular file", path)
	case st.Size() > limit:
		return fmt.Errorf("env file %s is larger than %s", path, sizeText(limit))
	}
	return nil
}
