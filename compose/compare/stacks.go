package compare

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/berth-gitops/berth/compose/load"
	"github.com/berth-gitops/berth/compose/stacks"
	"github.com/berth-gitops/berth/gitsource"
	"github.com/compose-spec/compose-go/v2/types"
)

// Source is what comparing stacks reads from a repository: two commits'
// trees, never a working copy.
type Source interface {
	Dirs(hash, dir string) ([]string, error)
	ReadFile(hash, path string) ([]byte, error)
	FileSize(hash, path string) (int64, error)
	Export(hash, dir, dest string) error
	Changed(from, to string) ([]string, error)
}

// Stacks compares the stacks under root (the sub-folders that hold a
// compose file) between the commits base and head, loaded for env. An error
// is bad input; a stack that fails to load is part of its report.
func Stacks(ctx context.Context, src Source, root, env, base, head string) ([]StackReport, error) {
	c := &comparer{src: src, root: root, env: env, base: base, head: head}
	return c.compareAll(ctx)
}

// StackReport is one stack's difference, or why there is none to show.
type StackReport struct {
	StackDiff
	// Error is a stack that does not load at head: deploying head would
	// stall on it.
	Error string `json:"error,omitempty"`
	// BaseError is a stack that did not load at base, so head could not be
	// compared with it.
	BaseError string `json:"base_error,omitempty"`
}

// comparer compares the stacks under root between two commits.
type comparer struct {
	src        Source
	root, env  string
	base, head string
	bad        map[string]error // stacks whose folder cannot be a stack
}

// compareAll lists the stacks at either commit and compares each; a stack
// whose folder no changed path touches is unchanged without loading it.
func (c *comparer) compareAll(ctx context.Context) ([]StackReport, error) {
	atBase, err := c.stacks(c.base)
	if err != nil {
		return nil, err
	}
	atHead, err := c.stacks(c.head)
	if err != nil {
		return nil, err
	}
	if len(atBase) == 0 && len(atHead) == 0 {
		// Most likely a mistyped --path; an empty diff would hide it.
		return nil, fmt.Errorf("--path: no stack (a folder with a compose file) under %s at either commit", c.root)
	}
	touched, err := c.touched()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "berth-diff-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var out []StackReport
	for _, name := range union(atBase, atHead) {
		r := StackReport{StackDiff: StackDiff{Stack: name, Status: StackUnchanged}}
		switch {
		case c.bad[name] != nil && atHead[name]:
			r.Stack, r.Status, r.Error = stacks.Quote(name), StackChanged, c.bad[name].Error()
		case touched[name] || atBase[name] != atHead[name]:
			r = c.compare(ctx, name, filepath.Join(tmp, name), atBase[name], atHead[name])
		}
		out = append(out, r)
	}
	return out, nil
}

// stacks are the stacks under root at a commit (see compose/stacks); a bad
// one is kept with its error in c.bad, reported instead of loaded.
func (c *comparer) stacks(hash string) (map[string]bool, error) {
	found, err := stacks.Find(stacks.Commit(c.src, hash), c.root)
	if err != nil {
		return nil, fmt.Errorf("at %s: %w", gitsource.Short(hash), err)
	}
	out := map[string]bool{}
	for _, s := range found {
		out[s.Name] = true
		if s.Err != nil {
			if c.bad == nil {
				c.bad = map[string]error{}
			}
			c.bad[s.Name] = s.Err
		}
	}
	return out, nil
}

// touched names the stacks that a path changed between the commits lies in.
func (c *comparer) touched() (map[string]bool, error) {
	paths, err := c.src.Changed(c.base, c.head)
	if err != nil {
		return nil, fmt.Errorf("changes between %s and %s: %w", gitsource.Short(c.base), gitsource.Short(c.head), err)
	}
	out := map[string]bool{}
	for _, p := range paths {
		rel := p
		if c.root != "." {
			var ok bool
			if rel, ok = strings.CutPrefix(p, c.root+"/"); !ok {
				continue
			}
		}
		if stack, _, ok := strings.Cut(rel, "/"); ok {
			out[stack] = true
		}
	}
	return out, nil
}

// compare loads the stack at base, then at head, from the same folder dir,
// so that absolute paths (bind-mount sources, the working directory) agree
// and only what the commits change differs.
func (c *comparer) compare(ctx context.Context, name, dir string, atBase, atHead bool) StackReport {
	var base, head *types.Project
	var baseErr error
	if atBase {
		base, baseErr = c.load(ctx, c.base, name, dir)
	}
	if atHead {
		var err error
		if head, err = c.load(ctx, c.head, name, dir); err != nil {
			return StackReport{StackDiff: StackDiff{Stack: name, Status: StackChanged}, Error: err.Error()}
		}
	}
	if baseErr != nil {
		d := StackDiff{Stack: name, Status: StackRemoved}
		if head != nil {
			d.Project, d.Status, d.ServiceCount = head.Name, StackChanged, len(head.Services)
		}
		return StackReport{StackDiff: d, BaseError: baseErr.Error()}
	}
	d := CompareProjects(base, head)
	d.Stack = name
	return StackReport{StackDiff: d}
}

// load exports the stack folder at a commit into dir and loads it without
// the process environment: the result must depend on the commit alone.
func (c *comparer) load(ctx context.Context, hash, name, dir string) (*types.Project, error) {
	src := path.Join(c.root, name)
	if err := c.src.Export(hash, src, dir); err != nil {
		return nil, fmt.Errorf("export %s at %s: %w", src, gitsource.Short(hash), err)
	}
	p, err := load.Load(ctx, load.LoadOptions{Dir: dir, Env: c.env, Placeholders: true})
	if err != nil {
		// Name the folder in the repository, not the temporary copy.
		msg := strings.ReplaceAll(err.Error(), dir, src)
		return nil, fmt.Errorf("at %s: %s", gitsource.Short(hash), msg)
	}
	return p, nil
}

func union(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if !a[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
