package stacks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// CommitReader reads a commit's tree: gitsource.Repo.
type CommitReader interface {
	Dirs(hash, dir string) ([]string, error)
	FileSize(hash, name string) (int64, error)
	ReadFile(hash, name string) ([]byte, error)
}

// Commit is the tree of one commit.
func Commit(r CommitReader, hash string) Tree { return commitTree{r: r, hash: hash} }

type commitTree struct {
	r    CommitReader
	hash string
}

func (c commitTree) Dirs(dir string) ([]string, error)    { return c.r.Dirs(c.hash, dir) }
func (c commitTree) Size(name string) (int64, error)      { return c.r.FileSize(c.hash, name) }
func (c commitTree) ReadFile(name string) ([]byte, error) { return c.r.ReadFile(c.hash, name) }

// Dir is a folder on disk; slash paths are relative to it. Symlinks are
// followed, as docker compose follows them in a working copy.
func Dir(root string) Tree { return dirTree(root) }

type dirTree string

func (d dirTree) path(name string) string { return filepath.Join(string(d), filepath.FromSlash(name)) }

func (d dirTree) Dirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(d.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, e := range entries {
		if st, err := os.Stat(d.path(filepath.Join(dir, e.Name()))); err == nil && st.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

func (d dirTree) Size(name string) (int64, error) {
	st, err := os.Stat(d.path(name))
	if err != nil {
		return 0, err
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file: %w", name, fs.ErrNotExist)
	}
	return st.Size(), nil
}

func (d dirTree) ReadFile(name string) ([]byte, error) { return os.ReadFile(d.path(name)) }
