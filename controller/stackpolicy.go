package controller

import (
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose/lint"
	"github.com/berth-gitops/berth/controller/policy"
)

// checkPolicy holds a loaded commit to the host policy before anything
// else looks at it: a refusal stalls the stack with the rule, service and
// field of each, and the live stack stays as it is.
func (s *stack) checkPolicy(p *types.Project) error {
	src, err := lint.ReadSources(s.dir, s.c.o.Env, s.c.stackPath(s.name))
	if err != nil {
		return err
	}
	fs := s.c.o.Policy.Check(p, s.policyTarget(src))
	var refused []string
	for _, f := range lint.Active(s.c.o.Policy.Except(fs)) {
		refused = append(refused, f.String())
	}
	if len(refused) == 0 {
		return nil
	}
	return fmt.Errorf("host policy: %d refusal(s) (the host's berth.yaml policy.exceptions can accept one, with a reason):\n%s",
		len(refused), strings.Join(refused, "\n"))
}

// hostPaths are the host paths the host grants this stack.
func (s *stack) hostPaths() []string { return s.c.o.Policy.HostPathsFor(s.name) }

// policyTarget is the stack as the policy sees it on this host.
func (s *stack) policyTarget(src lint.Sources) policy.Target {
	return policy.Target{Stack: s.name, Dirs: []string{s.dir, s.renderDir()}, Refused: s.c.o.PolicyRefused, Sources: src}
}
