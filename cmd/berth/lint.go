package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-gitops/berth/compose/lint"
	"github.com/berth-gitops/berth/compose/load"
	"github.com/berth-gitops/berth/compose/stacks"
	"github.com/berth-gitops/berth/controller/config"
	"github.com/berth-gitops/berth/controller/policy"
	"github.com/berth-gitops/berth/gitsource"
)

type lintFlags struct {
	env            string
	root           string
	format         string
	policy         string
	hostPolicy     string
	showExceptions bool
	listRules      bool
}

func newLintCmd(g *globals) *cobra.Command {
	var f lintFlags
	cmd := &cobra.Command{
		Use:   "lint [flags] DIR",
		Short: "Check stacks against the production checklist; exit 0 clean, 1 errors, 2 bad input",
		Long: `lint checks a stack folder, or every stack under --path of a repository, for
floating image tags, missing health checks, restart policies, log rotation and
memory limits, secrets written in the files, privileged containers and host
mounts that hand over the host, and holds them to the host policy that 'berth
run' enforces: the baseline profile, or the policy section of the berth.yaml
given with --host-policy (check a pull request against the production hosts'
policy). 'berth lint --rules' lists the rules.

The policy .berth/policy.yaml (found in DIR or above it, up to the folder that
holds .git; or --policy) may only make rules stricter: it raises severities,
and excepts warnings and info findings, each with a reason. Errors are
accepted only by the host (berth.yaml's policy.exceptions). Stacks load
without the process environment and with every profile enabled, so the
verdict depends on the files alone.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.validate(args); err != nil {
				return &exitError{code: 2, err: err}
			}
			if f.listRules {
				return f.printRules(g.stdout)
			}
			return f.run(cmd.Context(), g.stdout, args[0])
		},
	}
	cmd.Flags().StringVar(&f.env, "env", "", "environment: apply compose.ENV.yaml and ENV.env")
	cmd.Flags().StringVar(&f.root, "path", "stacks", "when DIR is a repository: the folder whose sub-folders are stacks")
	cmd.Flags().StringVar(&f.format, "format", "text", "output: text, json or github (workflow annotations)")
	cmd.Flags().StringVar(&f.policy, "policy", "", "policy file (default: .berth/policy.yaml in DIR or above)")
	cmd.Flags().StringVar(&f.hostPolicy, "host-policy", "", "berth.yaml whose policy section judges the stacks (default: the baseline profile)")
	cmd.Flags().BoolVar(&f.showExceptions, "show-exceptions", false, "also print the findings that the policy excepts, with the reason")
	cmd.Flags().BoolVar(&f.listRules, "rules", false, "list the rules with their default severity and exit")
	return cmd
}

func (f *lintFlags) validate(args []string) error {
	switch f.format {
	case "text", "json", "github":
	default:
		return fmt.Errorf("--format: %q is not one of text, json, github", f.format)
	}
	if !f.listRules && len(args) != 1 {
		return fmt.Errorf("lint needs a stack folder or a repository: berth lint DIR")
	}
	return nil
}

// stackResult is one stack's findings; loadErr is set when it did not load.
type stackResult struct {
	name, rel string
	findings  []lint.Finding
	loadErr   bool
}

func (f *lintFlags) run(ctx context.Context, w io.Writer, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	stacks, base, err := f.stacks(dir)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	pol, err := f.readPolicy(dir)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	host, err := f.readHostPolicy()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	results := make([]stackResult, len(stacks))
	for i, s := range stacks {
		results[i] = f.lintStack(ctx, s, slashRel(base, s.dir), pol, host)
	}
	if err := f.print(w, results); err != nil {
		return err
	}
	return lintExit(results)
}

// stacks lists the stack folders to lint and the folder that file names
// are relative to: the Git work tree holding DIR when there is one, else
// DIR (a repository) or the stack folder itself.
func (f *lintFlags) stacks(dir string) ([]stackDir, string, error) {
	base := gitWorkTree(dir)
	if base == "" {
		base = dir
	}
	if s, ok := stacks.At(stacks.Dir(filepath.Dir(dir)), filepath.Base(dir)); ok {
		return []stackDir{{dir: dir, err: s.Err}}, base, nil
	}
	root := filepath.Join(dir, f.root)
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, "", fmt.Errorf("%s has no compose file and no stack folders under --path %s", dir, f.root)
	}
	found, err := stacks.Find(stacks.Dir(root), ".")
	if err != nil {
		return nil, "", err
	}
	var out []stackDir
	for _, s := range found {
		out = append(out, stackDir{dir: filepath.Join(root, s.Name), err: s.Err})
	}
	if len(out) == 0 {
		return nil, "", fmt.Errorf("%s has no compose file, and no folder under %s has one", dir, root)
	}
	if len(out) > gitsource.MaxDirs {
		return nil, "", fmt.Errorf("%s holds more than %d stacks", root, gitsource.MaxDirs)
	}
	return out, base, nil
}

// stackDir is a stack folder to lint; err says why it cannot be a stack.
type stackDir struct {
	dir string
	err error
}

// gitWorkTree is the folder at or above dir that holds .git, or "".
func gitWorkTree(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

func slashRel(base, p string) string {
	rel, err := filepath.Rel(base, p)
	if err != nil || rel == "." {
		return ""
	}
	return filepath.ToSlash(rel)
}

func (f *lintFlags) readPolicy(dir string) (lint.Policy, error) {
	if f.policy != "" {
		return lint.ReadPolicyRules(f.policy, false, policy.Rules())
	}
	file, err := lint.FindPolicy(dir)
	if err != nil || file == "" {
		return lint.Policy{}, err
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, file); err == nil && !strings.HasPrefix(rel, "..") {
			file = rel
		}
	}
	return lint.ReadPolicyRules(file, false, policy.Rules())
}

// lintStack loads one stack the way the controller would deploy it, but
// from the files alone: no process environment, every profile enabled.
func (f *lintFlags) lintStack(ctx context.Context, sd stackDir, rel string, pol lint.Policy, host hostPolicy) stackResult {
	dir := sd.dir
	name := filepath.Base(dir)
	if sd.err != nil { // a name a terminal must not read raw
		name, rel = stacks.Quote(name), stacks.Quote(rel)
	}
	res := stackResult{name: name, rel: rel}
	fail := func(err error) stackResult {
		file := rel
		if files, _ := load.ConfigFiles(dir, f.env); len(files) > 0 {
			file = joinRel(rel, filepath.Base(files[0]))
		}
		// Name the folder as the findings do, not by its absolute path.
		msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), joinRel(rel, ""))
		msg = strings.ReplaceAll(msg, dir, dotIfEmpty(rel))
		res.findings = []lint.Finding{{Rule: lint.RuleLoad, Severity: lint.SeverityError, Stack: name, File: file, Message: msg}}
		res.loadErr = true
		return res
	}
	if sd.err != nil {
		return fail(sd.err)
	}
	p, err := load.Load(ctx, load.LoadOptions{Dir: dir, Env: f.env, Profiles: []string{"*"}, Placeholders: true,
		HostPaths: host.settings.HostPathsFor(name)})
	if err != nil {
		return fail(err)
	}
	src, err := lint.ReadSources(dir, f.env, rel)
	if err != nil {
		return fail(err)
	}
	t := policy.Target{Stack: name, Dirs: []string{dir}, Refused: host.refused, Sources: src}
	res.findings = host.settings.Review(p, pol, t).All()
	return res
}

// hostPolicy is the host's say: its policy settings and berth's folders
// there, which no stack may mount.
type hostPolicy struct {
	settings policy.Settings
	refused  []string
}

// readHostPolicy reads --host-policy's policy section and folders, or
// takes the defaults: the baseline profile, nothing granted.
func (f *lintFlags) readHostPolicy() (hostPolicy, error) {
	cfg := config.Default()
	if f.hostPolicy != "" {
		var err error
		if cfg, err = config.Load(f.hostPolicy); err != nil {
			return hostPolicy{}, fmt.Errorf("--host-policy: %w", err)
		}
		if errs := cfg.PolicyProblems(); len(errs) > 0 {
			return hostPolicy{}, fmt.Errorf("--host-policy %s: %w", f.hostPolicy, errors.Join(errs...))
		}
	}
	return hostPolicy{settings: cfg.Policy, refused: cfg.OwnPaths()}, nil
}

func joinRel(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

func dotIfEmpty(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// shown are the findings to print: excepted ones only when asked.
func (f *lintFlags) shown(fs []lint.Finding) []lint.Finding {
	if f.showExceptions {
		return fs
	}
	return lint.Active(fs)
}

func (f *lintFlags) print(w io.Writer, results []stackResult) error {
	var b strings.Builder
	switch f.format {
	case "json":
		all := []lint.Finding{}
		for _, r := range results {
			all = append(all, f.shown(r.findings)...)
		}
		out, err := json.MarshalIndent(all, "", "  ")
		if err != nil {
			return err
		}
		b.Write(out)
		b.WriteByte('\n')
	case "github":
		for _, r := range results {
			for _, fd := range f.shown(r.findings) {
				b.WriteString(fd.GitHub() + "\n")
			}
		}
	default:
		f.text(&b, results)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// text prints each stack's findings under a line with its counts, then the
// total.
func (f *lintFlags) text(b *strings.Builder, results []stackResult) {
	var all []lint.Finding
	for _, r := range results {
		all = append(all, r.findings...)
		label := r.name
		if r.rel != "" && r.rel != r.name {
			label += " (" + r.rel + ")"
		}
		switch {
		case r.loadErr:
			fmt.Fprintf(b, "stack %s: does not load\n", label)
		case len(r.findings) == 0:
			fmt.Fprintf(b, "stack %s: no findings\n", label)
		default:
			fmt.Fprintf(b, "stack %s: %s\n", label, lint.Summarize(r.findings))
		}
		for _, fd := range f.shown(r.findings) {
			b.WriteString(fd.String() + "\n")
		}
	}
	env := ""
	if f.env != "" {
		env = " for " + f.env
	}
	fmt.Fprintf(b, "%s%s: %s\n", countNoun(len(results), "stack"), env, lint.Summarize(all))
}

func countNoun(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// lintExit is 2 when a stack did not load, 1 when an error is not
// excepted, else 0.
func lintExit(results []stackResult) error {
	var broken []string
	failed := false
	for _, r := range results {
		if r.loadErr {
			broken = append(broken, r.name)
		}
		failed = failed || lint.HasErrors(r.findings)
	}
	if len(broken) > 0 {
		verb := "do"
		if len(broken) == 1 {
			verb = "does"
		}
		return &exitError{code: 2, err: fmt.Errorf("%s %s not load: %s", countNoun(len(broken), "stack"), verb, strings.Join(broken, ", "))}
	}
	if failed {
		return &exitError{code: 1}
	}
	return nil
}

// printRules lists the rules: a table, or JSON with --format json.
func (f *lintFlags) printRules(w io.Writer) error {
	rules := append(lint.Rules(), policy.Rules()...)
	if f.format == "json" {
		out, err := json.MarshalIndent(rules, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", out)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tSEVERITY\tCHECKS")
	for _, r := range rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.ID, r.Severity, r.Summary)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, r := range rules {
		id := r.ID
		if len(r.Aliases) > 0 {
			id += " (formerly " + strings.Join(r.Aliases, ", ") + ")"
		}
		fmt.Fprintf(w, "%s: %s.\n", id, r.Why)
	}
	return nil
}
