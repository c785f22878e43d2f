package controller

import (
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose/lint"
	"github.com/berth-gitops/berth/controller/policy"
	"github.com/berth-gitops/berth/controller/reconcile"
)

// checkPolicy holds a loaded commit to the host policy before anything
// else looks at it: a refusal stalls the stack with the rule, service and
// field of each, and the live stack stays as it is.
func (s *stack) checkPolicy(p *types.Project) error {
	src, err := lint.ReadSources(s.dir, s.c.o.Env, s.c.stackPath(s.name))
	if err != nil {
		return err
	}
	fs := lint.Active(s.c.o.Policy.Except(s.c.o.Policy.Check(p, s.policyTarget(src))))
	if len(fs) == 0 {
		return nil
	}
	return reconcile.Stalling(refusal(fs))
}

// refusal leads with the first refusal's rule, service and field, so
// that a commit status, which keeps only the start, still says what was
// refused; every refusal follows on its own line.
func refusal(fs []lint.Finding) error {
	first := fs[0]
	head := fmt.Sprintf("host policy refused [%s] service %q field %s", first.Rule, first.Service, first.Field)
	if len(fs) > 1 {
		head += fmt.Sprintf(" and %d more", len(fs)-1)
	}
	lines := make([]string, len(fs))
	for i, f := range fs {
		lines[i] = f.String()
	}
	return fmt.Errorf("%s:\n%s\n(the host's berth.yaml policy.exceptions can accept one, with a reason)", head, strings.Join(lines, "\n"))
}

// hostPaths are the host paths the host grants this stack.
func (s *stack) hostPaths() []string { return s.c.o.Policy.HostPathsFor(s.name) }

// policyTarget is the stack as the policy sees it on this host. Its render
// dir is not the stack's: berth writes env files and decrypted secrets
// there during every load, so it is refused like the rest of berth's data.
func (s *stack) policyTarget(src lint.Sources) policy.Target {
	return policy.Target{Stack: s.name, Dirs: []string{s.dir}, Refused: s.c.o.PolicyRefused, Sources: src}
}
