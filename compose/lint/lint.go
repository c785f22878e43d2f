// Package lint checks a stack against the production checklist: immutable
// images, health checks, restart policies, log rotation, memory limits, no
// secrets in the files. What a stack may ask of the host (privileged, host
// namespaces, host paths) is the host policy's, which reports in the same
// Finding shape and whose rules a Policy may name. Lint is a pure function of the
// loaded project, the files as written (Sources) and the repository's
// policy, so `berth lint` in a pull request and the controller before a
// deploy reach the same verdict.
package lint

import (
	"cmp"
	"maps"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
)

// Finding is one rule's verdict on one place of a stack.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Stack    string   `json:"stack"`
	Service  string   `json:"service,omitempty"`
	// Field is the service field's path (image, deploy.resources.limits.memory,
	// environment.DB_PASSWORD), or the key in an env file.
	Field string `json:"field,omitempty"`
	// File is relative to the repository or the stack folder; Line is 0
	// when unknown.
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
	// Excepted is the reason of the policy exception that covers the
	// finding; an excepted finding counts for nothing.
	Excepted string `json:"excepted,omitempty"`
}

// Lint checks every service of p (load it with every profile enabled to
// check them all) and returns the findings after pol: severities changed,
// rules turned off dropped, excepted findings marked. Sorted by stack,
// file, line, rule and service.
func Lint(p *types.Project, src Sources, pol Policy) []Finding {
	stack := src.Stack
	if stack == "" {
		stack = p.Name
	}
	c := &checker{p: p, src: src, stack: stack, dependedOn: dependedOn(p)}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		c.service(name, p.Services[name])
	}
	c.secrets()
	return sortFindings(pol.apply(c.out))
}

// dependedOn is the set of services another service depends on.
func dependedOn(p *types.Project) map[string]bool {
	out := map[string]bool{}
	for name, s := range p.Services {
		for dep := range s.DependsOn {
			if dep != name {
				out[dep] = true
			}
		}
	}
	return out
}

// Sort orders findings by stack, file, line, rule, service and field.
func Sort(fs []Finding) []Finding { return sortFindings(fs) }

func sortFindings(fs []Finding) []Finding {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(a.Stack, b.Stack),
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Field, b.Field),
		)
	})
	return fs
}

// Active drops the excepted findings.
func Active(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Excepted == "" {
			out = append(out, f)
		}
	}
	return out
}

// HasErrors reports whether a finding that is not excepted is an error:
// the gate's verdict.
func HasErrors(fs []Finding) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Excepted == "" && f.Severity == SeverityError })
}
