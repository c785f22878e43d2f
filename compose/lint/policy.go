package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/berth-gitops/berth/compose/budget"
)

// PolicyFile is where a repository keeps its policy, from its root.
const PolicyFile = ".berth/policy.yaml"

// Policy is a repository's say on the rules:
//
//	rules:
//	  no-memory-limit: error         # info | warning | error, never below the default
//	exceptions:
//	  - rule: no-healthcheck         # a warning or info rule only
//	    stack: jobs                  # optional; a path.Match pattern
//	    service: nightly             # optional; a path.Match pattern
//	    reason: "a one-shot job"     # required
//
// It lives in the same repository as the changes it judges, so it may only
// make the rules stricter: a severity below a rule's default and an
// exception of an error rule are refused. Error findings are accepted by
// the host (berth.yaml's policy.exceptions), never by the repository.
// The zero Policy is the defaults.
type Policy struct {
	// File is where the policy was read from; empty for the defaults.
	File string
	// Severities override rules' default severities; SeverityOff drops a
	// rule's findings.
	Severities map[string]Severity
	Exceptions []Exception
}

// Exception suppresses the findings of one rule for matching stacks and
// services. It keeps its reason, which an excepted finding carries.
type Exception struct {
	Rule    string
	Stack   string // a path.Match pattern; empty matches every stack
	Service string // a path.Match pattern; empty matches every service
	Reason  string
	Line    int // in the policy file
}

// LoadPolicy reads repoRoot/.berth/policy.yaml; a missing file is the
// defaults.
func LoadPolicy(repoRoot string) (Policy, error) {
	return ReadPolicy(filepath.Join(repoRoot, filepath.FromSlash(PolicyFile)), true)
}

// FindPolicy looks for .berth/policy.yaml in dir and then upward, stopping
// at the folder that holds .git or at the filesystem root. It returns the
// file's path, or "" when there is none.
func FindPolicy(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		f := filepath.Join(dir, filepath.FromSlash(PolicyFile))
		if _, err := os.Stat(f); err == nil {
			return f, nil
		}
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			return "", nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}

// ReadPolicy reads a policy file; with missingOK a missing file is the
// defaults.
func ReadPolicy(file string, missingOK bool) (Policy, error) {
	return ReadPolicyRules(file, missingOK, nil)
}

// ParsePolicy reads a policy strictly: an unknown key, rule or severity, a
// bad pattern, an exception without a reason, a severity below a rule's
// default and an exception of an error rule are errors naming the file and
// the line.
func ParsePolicy(data []byte, name string) (Policy, error) {
	return ParsePolicyRules(data, name, nil)
}

// ReadPolicyRules is ReadPolicy knowing more rules than the checklist's:
// extra are rules checked elsewhere (the host policy's) that a policy may
// name.
func ReadPolicyRules(file string, missingOK bool, extra []Rule) (Policy, error) {
	data, err := budget.ReadFile(file, file, budget.Compose.Bytes)
	if missingOK && errors.Is(err, fs.ErrNotExist) {
		return Policy{}, nil
	}
	if err != nil {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	return ParsePolicyRules(data, file, extra)
}

// ParsePolicyRules is ParsePolicy knowing the extra rules too.
func ParsePolicyRules(data []byte, name string, extra []Rule) (Policy, error) {
	pol := Policy{File: name}
	if err := budget.Check(name, data, budget.Compose); err != nil {
		return Policy{}, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Policy{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(doc.Content) == 0 { // an empty file
		return pol, nil
	}
	p := &policyParser{name: name, rules: append(Rules(), extra...)}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.fail(root, "the policy must be a mapping with rules and exceptions")
		return Policy{}, p.err()
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], resolve(root.Content[i+1])
		switch k.Value {
		case "rules":
			pol.Severities = p.severities(v)
		case "exceptions":
			pol.Exceptions = p.exceptions(v)
		default:
			p.fail(k, "unknown key %q (want rules or exceptions)", k.Value)
		}
	}
	p.onlyStricter(pol)
	if err := p.err(); err != nil {
		return Policy{}, err
	}
	return pol, nil
}

type policyParser struct {
	name  string
	rules []Rule
	errs  []error
	// lines locate severities for onlyStricter.
	lines map[string]*yaml.Node
}

// rule finds a rule by its id or a former id.
func (p *policyParser) rule(id string) (Rule, bool) {
	for _, r := range p.rules {
		if r.ID == id || slices.Contains(r.Aliases, id) {
			return r, true
		}
	}
	return Rule{}, false
}

// onlyStricter refuses what would let a commit lift the gate it is
// judged by: a severity below the default, an exception of an error.
func (p *policyParser) onlyStricter(pol Policy) {
	for id, s := range pol.Severities {
		r, _ := p.rule(id)
		if s == SeverityOff || s.rank() > r.Severity.rank() {
			p.fail(p.lines[id], "rules.%s: %s is below the rule's default (%s); the repository's policy may only make rules stricter", id, s, r.Severity)
		}
	}
	for i, e := range pol.Exceptions {
		r, ok := p.rule(e.Rule)
		s := r.Severity
		if o, set := pol.Severities[r.ID]; set && o.rank() < s.rank() {
			s = o
		}
		if ok && s == SeverityError {
			p.errs = append(p.errs, fmt.Errorf("%s:%d: exceptions[%d]: %s is an error rule: the repository's policy may not except it; the host accepts it in berth.yaml (policy.exceptions)", p.name, e.Line, i, r.ID))
		}
	}
}

func (p *policyParser) fail(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d: %s", p.name, n.Line, fmt.Sprintf(format, args...)))
}

func (p *policyParser) err() error { return errors.Join(p.errs...) }

func (p *policyParser) severities(v *yaml.Node) map[string]Severity {
	if v.Kind != yaml.MappingNode {
		p.fail(v, "rules: want a mapping of rule id to off, info, warning or error")
		return nil
	}
	out := map[string]Severity{}
	p.lines = map[string]*yaml.Node{}
	for _, kv := range pairs(v) {
		k, val := kv[0], resolve(kv[1])
		r, ok := p.rule(k.Value)
		if !ok {
			p.fail(k, "rules: unknown rule %q (berth lint --rules lists them)", k.Value)
			continue
		}
		s := Severity(val.Value)
		if val.Kind != yaml.ScalarNode || (s != SeverityOff && s.rank() > 2) {
			p.fail(val, "rules.%s: %q is not one of off, info, warning, error", k.Value, val.Value)
			continue
		}
		out[r.ID], p.lines[r.ID] = s, val
	}
	return out
}

func (p *policyParser) exceptions(v *yaml.Node) []Exception {
	if v.Kind != yaml.SequenceNode {
		p.fail(v, "exceptions: want a list")
		return nil
	}
	var out []Exception
	for i, item := range items(v) {
		at := "exceptions[" + strconv.Itoa(i) + "]"
		if item.Kind != yaml.MappingNode {
			p.fail(item, "%s: want a mapping with rule, stack, service and reason", at)
			continue
		}
		e := Exception{Line: item.Line}
		fields := map[string]*string{"rule": &e.Rule, "stack": &e.Stack, "service": &e.Service, "reason": &e.Reason}
		for _, kv := range pairs(item) {
			dst, ok := fields[kv[0].Value]
			val := resolve(kv[1])
			switch {
			case !ok:
				p.fail(kv[0], "%s: unknown key %q (want rule, stack, service, reason)", at, kv[0].Value)
			case val.Kind != yaml.ScalarNode:
				p.fail(val, "%s.%s: want a string", at, kv[0].Value)
			default:
				*dst = val.Value
			}
		}
		p.checkException(item, at, e)
		if r, ok := p.rule(e.Rule); ok {
			e.Rule = r.ID
		}
		out = append(out, e)
	}
	return out
}

func (p *policyParser) checkException(n *yaml.Node, at string, e Exception) {
	if _, ok := p.rule(e.Rule); !ok {
		p.fail(n, "%s: rule %q is not a rule id (berth lint --rules lists them)", at, e.Rule)
	}
	if e.Reason == "" {
		p.fail(n, "%s: reason is required: say why the %s finding is accepted", at, e.Rule)
	}
	for field, pat := range map[string]string{"stack": e.Stack, "service": e.Service} {
		if _, err := path.Match(pat, ""); err != nil {
			p.fail(n, "%s.%s: bad pattern %q: %v", at, field, pat, err)
		}
	}
}

// apply changes the findings' severities, drops the rules turned off and
// marks the excepted findings.
func (pol Policy) apply(fs []Finding) []Finding {
	out := fs[:0]
	for _, f := range fs {
		if s, ok := pol.Severities[f.Rule]; ok && f.Rule != RuleLoad {
			if s == SeverityOff {
				continue
			}
			f.Severity = s
		}
		if e, ok := pol.exception(f); ok {
			f.Excepted = e.Reason
		}
		out = append(out, f)
	}
	return out
}

func (pol Policy) exception(f Finding) (Exception, bool) {
	for _, e := range pol.Exceptions {
		if e.Rule == f.Rule && match(e.Stack, f.Stack) && match(e.Service, f.Service) {
			return e, true
		}
	}
	return Exception{}, false
}

func match(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, s)
	return ok
}
