package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/berth-gitops/berth/compose/compare"
	"github.com/berth-gitops/berth/gitsource"
	"github.com/spf13/cobra"
)

// diff reads two commits' trees from the repository, never a working copy.
var _ compare.Source = (*gitsource.Repo)(nil)

type diffFlags struct {
	repo   string
	root   string
	env    string
	asJSON bool
}

// diffReport is the whole output of berth diff.
type diffReport struct {
	Base   gitsource.Commit      `json:"base"`
	Head   gitsource.Commit      `json:"head"`
	Path   string                `json:"path"`
	Env    string                `json:"env,omitempty"`
	Stacks []compare.StackReport `json:"stacks"`
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
	rep.Stacks, err = compare.Stacks(ctx, repo, root, f.env, rep.Base.Hash, rep.Head.Hash)
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

func (f *diffFlags) print(g *globals, rep *diffReport) error {
	if f.asJSON {
		if rep.Stacks == nil {
			rep.Stacks = []compare.StackReport{}
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
		b.WriteString(stackText(s))
	}
	_, err := fmt.Fprint(g.stdout, b.String())
	return err
}

// stackText is one stack's part of the text output.
func stackText(r compare.StackReport) string {
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
