package policy

import (
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-gitops/berth/compose/lint"
)

// Settings are the host's policy, berth.yaml's policy section:
//
//	policy:
//	  profile: baseline            # baseline | restricted | privileged
//	  require_read_only: false     # restricted: read_only: true required
//	  host_paths:                  # host paths stacks may bind-mount
//	    - {path: /srv/media, stacks: ["media*"], read_only: true}
//	  stacks:                      # a profile per stack
//	    monitoring: {profile: privileged}
//	  exceptions:                  # rule, stack, service (path.Match patterns), reason
//	    - {rule: host-pid, stack: monitoring, service: node-exporter, reason: "reads host processes"}
//
// The zero Settings is the baseline profile with nothing granted.
type Settings struct {
	Profile         string                   `yaml:"profile"`
	RequireReadOnly bool                     `yaml:"require_read_only"`
	HostPaths       []HostPath               `yaml:"host_paths"`
	Stacks          map[string]StackSettings `yaml:"stacks"`
	Exceptions      []Exception              `yaml:"exceptions"`
}

// HostPath grants a host file or folder to the stacks whose names match
// one of Stacks (path.Match patterns).
type HostPath struct {
	Path   string   `yaml:"path"`
	Stacks []string `yaml:"stacks"`
	// ReadOnly refuses read-write mounts of the path.
	ReadOnly bool `yaml:"read_only"`
}

// StackSettings are one stack's own settings.
type StackSettings struct {
	Profile string `yaml:"profile"`
}

// Exception accepts the findings of one rule (a host policy rule or a
// checklist rule of berth lint) for the matching stacks and services.
type Exception struct {
	Rule    string `yaml:"rule"`
	Stack   string `yaml:"stack"`   // a path.Match pattern; empty matches every stack
	Service string `yaml:"service"` // a path.Match pattern; empty matches every service
	Reason  string `yaml:"reason"`
}

var profiles = []string{ProfileBaseline, ProfileRestricted, ProfilePrivileged}

// ProfileFor is the profile that judges a stack: its own, or the host's.
func (s Settings) ProfileFor(stack string) string {
	if st, ok := s.Stacks[stack]; ok && st.Profile != "" {
		return st.Profile
	}
	if s.Profile != "" {
		return s.Profile
	}
	return DefaultProfile
}

// grantsFor lists the host paths granted to a stack.
func (s Settings) grantsFor(stack string) []HostPath {
	var out []HostPath
	for _, g := range s.HostPaths {
		if slices.ContainsFunc(g.Stacks, func(p string) bool { return match(p, stack) }) {
			out = append(out, g)
		}
	}
	return out
}

// HostPathsFor lists the host paths granted to a stack, for
// compose.LoadOptions.HostPaths.
func (s Settings) HostPathsFor(stack string) []string {
	var out []string
	for _, g := range s.grantsFor(stack) {
		out = append(out, filepath.Clean(g.Path))
	}
	return out
}

// Except marks the findings that the host's exceptions accept, with the
// exception's reason; the others are returned as they are.
func (s Settings) Except(fs []lint.Finding) []lint.Finding {
	for i, f := range fs {
		if f.Excepted != "" || f.Rule == lint.RuleLoad {
			continue
		}
		for _, e := range s.Exceptions {
			rule, _ := canonical(e.Rule)
			if rule == "" {
				rule = e.Rule
			}
			if rule == f.Rule && match(e.Stack, f.Stack) && match(e.Service, f.Service) {
				fs[i].Excepted = "host policy: " + e.Reason
				break
			}
		}
	}
	return fs
}

func match(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, s)
	return ok
}

// Problems checks the settings; prefix is their key path in the file
// ("policy"). Each problem names its key and the bad value. knownRule
// tells the checklist's rule ids, which exceptions may name too.
func (s Settings) Problems(prefix string, knownRule func(string) bool) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if s.Profile != "" && !slices.Contains(profiles, s.Profile) {
		add("%s.profile: %q is not one of %s", prefix, s.Profile, strings.Join(profiles, ", "))
	}
	for i, g := range s.HostPaths {
		at := fmt.Sprintf("%s.host_paths[%d]", prefix, i)
		if msg := grantProblem(g.Path); msg != "" {
			add("%s.path: %q %s", at, g.Path, msg)
		}
		if len(g.Stacks) == 0 {
			add("%s.stacks: empty; name the stacks it is granted to (\"*\" for every stack)", at)
		}
		for j, p := range g.Stacks {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				add("%s.stacks[%d]: %q is not a path.Match pattern", at, j, p)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Stacks)) {
		if p := s.Stacks[name].Profile; !slices.Contains(profiles, p) {
			add("%s.stacks.%s.profile: %q is not one of %s", prefix, name, p, strings.Join(profiles, ", "))
		}
	}
	for i, e := range s.Exceptions {
		errs = append(errs, e.problems(fmt.Sprintf("%s.exceptions[%d]", prefix, i), knownRule)...)
	}
	return errs
}

func (e Exception) problems(at string, knownRule func(string) bool) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if _, ok := canonical(e.Rule); !ok && (knownRule == nil || !knownRule(e.Rule)) {
		add("%s.rule: %q is not a rule id (berth lint --rules lists them)", at, e.Rule)
	}
	if strings.TrimSpace(e.Reason) == "" {
		add("%s.reason: required: say why the %s finding is accepted", at, e.Rule)
	}
	for field, pat := range map[string]string{"stack": e.Stack, "service": e.Service} {
		if _, err := path.Match(pat, ""); err != nil {
			add("%s.%s: %q is not a path.Match pattern", at, field, pat)
		}
	}
	return errs
}

// grantProblem checks a granted host path: absolute, clean, and not one
// that is never granted (nor a folder holding one).
func grantProblem(p string) string {
	switch {
	case !filepath.IsAbs(p):
		return "is not an absolute path"
	case filepath.Clean(p) != p:
		return fmt.Sprintf("is not clean (use %q)", filepath.Clean(p))
	}
	for _, q := range []string{p, resolve(p)} {
		if rule, why := systemPath(q, nil); rule != "" {
			return "can never be granted: " + why
		}
	}
	return ""
}
