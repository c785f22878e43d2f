package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/stacks"
	"github.com/berth-gitops/berth/gitsource"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"
)

// diffSource is what diff reads from a repository: two commits' trees,
// never a working copy.
type diffSource interface {
	Resolve(rev string) (gitsource.Commit, error)
	Dirs(hash, dir string) ([]string, error)
	ReadFile(hash, path string) ([]byte, error)
	FileSize(hash, path string) (int64, error)
	Export(hash, dir, dest string) error
	Changed(from, to string) ([]string, error)
}

var _ diffSource = (*gitsource.Repo)(nil)

type diffFlags struct {
	repo   string
	root   string
	env    string
	asJSON bool
}

// diffReport is the whole output of berth diff.
type diffReport struct {
	Base   gitsource.Commit `json:"base"`
	Head   gitsource.Commit `json:"head"`
	Path   string           `json:"path"`
	Env    string           `json:"env,omitempty"`
	Stacks []stackReport    `json:"stacks"`
}

// stackReport is one stack's difference, or why there is none to show.
type stackReport struct {
	compose.StackDiff
	// Error is a stack that does not load at head: deploying head would
	// stall on it.
	Error string `json:"error,omitempty"`
	// BaseError is a stack that did not load at base, so head could not be
	// compared with it.
	BaseError string `json:"base_error,omitempty"`
}

func newDiffCmd(g *globals) *cobra.Command {
	var f diffFlags
	cmd := &cobra.Command{
		Use:   "diff [flags] BASE HEAD",
		Short: "Show what changes per stack and service between two commits, without an engine; exit 0 none, 1 changes, 2 error",
		Long: `diff compares the stacks of two commits of the infra repository, for review
in a pull request's CI: images, environment variable names (never values),
ports, mounts, networks, replicas and every other field that makes a service's
containers be recreated. It reads commits, not the working copy, and never
talks to a Docker engine. BASE and HEAD are commit hashes, branches, tags or HEAD.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := f.run(cmd.Context(), args[0], args[1])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := f.print(g, rep); err != nil {
				return err
			}
			return rep.exit()
		},
	}
	cmd.Flags().StringVar(&f.repo, "repo", ".", "the infra repository (work tree or bare)")
	cmd.Flags().StringVar(&f.root, "path", "stacks", "the folder in the repository whose sub-folders are stacks")
	cmd.Flags().StringVar(&f.env, "env", "", "environment: apply compose.ENV.yaml and ENV.env")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the difference as JSON")
	return cmd
}

// run resolves both commits and compares every stack. An error is bad
// input; a stack that fails to load is part of the report.
func (f *diffFlags) run(ctx context.Context, baseRev, headRev string) (*diffReport, error) {
	root, err := cleanRoot(f.root)
	if err != nil {
		return nil, err
	}
	repo, err := gitsource.OpenLocal(f.repo)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", f.repo, err)
	}
	rep := &diffReport{Path: root, Env: f.env}
	if rep.Base, err = repo.Resolve(baseRev); err != nil {
		return nil, fmt.Errorf("resolve BASE %q: %w", baseRev, err)
	}
	if rep.Head, err = repo.Resolve(headRev); err != nil {
		return nil, fmt.Errorf("resolve HEAD %q: %w", headRev, err)
	}
	c := &comparer{src: repo, root: root, env: f.env, base: rep.Base.Hash, head: rep.Head.Hash}
	rep.Stacks, err = c.compareAll(ctx)
	return rep, err
}

// cleanRoot makes --path a clean slash path inside the repository.
func cleanRoot(p string) (string, error) {
	c := path.Clean(filepath.ToSlash(p))
	if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("--path: %q is not a folder inside the repository", p)
	}
	return c, nil
}

// comparer compares the stacks under root between two commits.
type comparer struct {
	src        diffSource
	root, env  string
	base, head string
	bad        map[string]error // stacks whose folder cannot be a stack
}

// compareAll lists the stacks at either commit and compares each; a stack
// whose folder no changed path touches is unchanged without loading it.
func (c *comparer) compareAll(ctx context.Context) ([]stackReport, error) {
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
	var out []stackReport
	for _, name := range union(atBase, atHead) {
		r := stackReport{StackDiff: compose.StackDiff{Stack: name, Status: compose.StackUnchanged}}
		switch {
		case c.bad[name] != nil && atHead[name]:
			r.Stack, r.Status, r.Error = stacks.Quote(name), compose.StackChanged, c.bad[name].Error()
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
func (c *comparer) compare(ctx context.Context, name, dir string, atBase, atHead bool) stackReport {
	var base, head *types.Project
	var baseErr error
	if atBase {
		base, baseErr = c.load(ctx, c.base, name, dir)
	}
	if atHead {
		var err error
		if head, err = c.load(ctx, c.head, name, dir); err != nil {
			return stackReport{StackDiff: compose.StackDiff{Stack: name, Status: compose.StackChanged}, Error: err.Error()}
		}
	}
	if baseErr != nil {
		d := compose.StackDiff{Stack: name, Status: compose.StackRemoved}
		if head != nil {
			d.Project, d.Status, d.ServiceCount = head.Name, compose.StackChanged, len(head.Services)
		}
		return stackReport{StackDiff: d, BaseError: baseErr.Error()}
	}
	d := compose.CompareProjects(base, head)
	d.Stack = name
	return stackReport{StackDiff: d}
}

// load exports the stack folder at a commit into dir and loads it without
// the process environment: the result must depend on the commit alone.
func (c *comparer) load(ctx context.Context, hash, name, dir string) (*types.Project, error) {
	src := path.Join(c.root, name)
	if err := c.src.Export(hash, src, dir); err != nil {
		return nil, fmt.Errorf("export %s at %s: %w", src, gitsource.Short(hash), err)
	}
	p, err := compose.Load(ctx, compose.LoadOptions{Dir: dir, Env: c.env, Placeholders: true})
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

func (f *diffFlags) print(g *globals, rep *diffReport) error {
	if f.asJSON {
		if rep.Stacks == nil {
			rep.Stacks = []stackReport{}
		}
		out, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(g.stdout, "%s\n", out)
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "base %s → head %s\n", rep.Base.Short(), rep.Head.Short())
	for _, s := range rep.Stacks {
		b.WriteString(s.text())
	}
	_, err := fmt.Fprint(g.stdout, b.String())
	return err
}

func (r stackReport) text() string {
	switch {
	case r.Error != "":
		return fmt.Sprintf("stack %s: does not load: %s\n", r.Stack, r.Error)
	case r.BaseError != "":
		return fmt.Sprintf("stack %s: %s, not compared: base does not load: %s\n", r.Stack, r.Status, r.BaseError)
	}
	return r.String()
}

// exit is 2 when a stack does not load at head, 1 when anything changes,
// as for berth plan.
func (rep *diffReport) exit() error {
	var broken []string
	changed := false
	for _, s := range rep.Stacks {
		if s.Error != "" {
			broken = append(broken, s.Stack)
		}
		changed = changed || s.Changed()
	}
	if len(broken) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("%d stack(s) do not load at %s: %s", len(broken), rep.Head.Short(), strings.Join(broken, ", "))}
	}
	if changed {
		return &exitError{code: 1}
	}
	return nil
}
