// Package stacks finds the stacks of an infra repository, one way for every
// command: the folders directly under one path that hold a compose file.
// The same rules read a commit's tree (the controller, berth diff) and a
// folder on disk (berth lint). A folder whose name cannot be a stack is
// reported as a bad stack beside the others, never as a failure of the
// whole discovery, and which stacks a host runs is read from their
// x-berth hosts key with a bounded YAML read: nothing is loaded with
// compose-go to find out.
package stacks

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/load"
)

// Tree is a tree of folders and files, named by slash paths: a commit's
// (Commit) or a folder on disk (Dir).
type Tree interface {
	// Dirs lists the names of the folders directly inside dir, sorted;
	// none when dir does not exist.
	Dirs(dir string) ([]string, error)
	// Size is a file's size, without reading it; fs.ErrNotExist when it
	// is absent or not a file.
	Size(name string) (int64, error)
	// ReadFile reads a file's content.
	ReadFile(name string) ([]byte, error)
}

// Stack is a folder that holds a compose file.
type Stack struct {
	Name string // the folder's name
	Path string // its slash path in the tree
	// Err is set when the folder cannot be a stack (its name): the stack
	// is reported, and stalls, with it; the others go on.
	Err error
}

// Find lists the stacks under root, sorted by name. Its error is a failed
// read of root itself; each folder's own trouble is in its Stack.Err.
func Find(t Tree, root string) ([]Stack, error) {
	dirs, err := t.Dirs(root)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", root, err)
	}
	var out []Stack
	for _, name := range dirs {
		if s, ok := At(t, path.Join(root, name)); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// At is the stack at dir, when dir holds a compose file. A compose file
// that cannot be looked up is the stack's error, not the caller's.
func At(t Tree, dir string) (Stack, bool) {
	name := path.Base(dir)
	ok, err := hasComposeFile(t, dir)
	switch {
	case err != nil:
		return Stack{Name: name, Path: dir, Err: fmt.Errorf("stack folder %s: %w", Quote(name), err)}, true
	case !ok:
		return Stack{}, false
	}
	return Stack{Name: name, Path: dir, Err: CheckName(name)}, true
}

func hasComposeFile(t Tree, dir string) (bool, error) {
	base, _ := load.ComposeFileNames("")
	for _, name := range base {
		_, err := t.Size(path.Join(dir, name))
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
	}
	return false, nil
}

// BadNameError is a stack folder whose name cannot be a stack's.
type BadNameError struct{ Name string }

func (e *BadNameError) Error() string {
	return fmt.Sprintf("stack folder %s: a stack's name starts with a letter or digit and holds only letters, digits, '.', '_' and '-' (rename the folder)", Quote(e.Name))
}

// CheckName refuses a name that is not a stack's: one that a log line, a
// status table, a path or a Compose project name would misread (control
// characters, newlines, escapes, spaces, slashes, a leading dot).
func CheckName(name string) error {
	if name == "" || len(name) > 255 {
		return &BadNameError{Name: name}
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case i > 0 && (r == '.' || r == '_' || r == '-'):
		default:
			return &BadNameError{Name: name}
		}
	}
	return nil
}

// Quote shows a folder name safely in an error, a log or a terminal:
// quoted, with control characters escaped.
func Quote(name string) string { return strconv.Quote(name) }

// MaxSettingsRead bounds the compose files read to find out which hosts a
// stack is for: a load refuses larger ones too.
const MaxSettingsRead = load.MaxStackFileSize

// Settings reads the stack's x-berth (hosts, prune_volumes) from its
// compose file and, for env, its overlay, each read only when it is at
// most MaxSettingsRead bytes. Nothing is interpolated or loaded.
func Settings(t Tree, s Stack, env string) (compose.Settings, error) {
	if s.Err != nil {
		return compose.Settings{}, s.Err
	}
	base, overlay := load.ComposeFileNames(env)
	var files []load.ComposeFile
	for _, names := range [][]string{base, overlay} {
		f, err := readFirst(t, s.Path, names)
		if err != nil {
			return compose.Settings{}, err
		}
		if f != nil {
			files = append(files, *f)
		}
	}
	return load.ParseSettings(files)
}

// readFirst reads the first of names that exists in dir; nil when none does.
func readFirst(t Tree, dir string, names []string) (*load.ComposeFile, error) {
	for _, name := range names {
		p := path.Join(dir, name)
		size, err := t.Size(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if size > MaxSettingsRead {
			return nil, fmt.Errorf("compose file %s is larger than %d KiB", name, MaxSettingsRead>>10)
		}
		data, err := t.ReadFile(p)
		if err != nil {
			return nil, err
		}
		return &load.ComposeFile{Name: name, Data: data}, nil
	}
	return nil, nil
}
