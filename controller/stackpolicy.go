package controller

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose/lint"
	"github.com/berth-gitops/berth/controller/policy"
	"github.com/berth-gitops/berth/controller/reconcile"
	"github.com/berth-gitops/berth/gitsource"
)

// review holds a loaded commit to the host policy, the production
// checklist and the repo's policy at once (see policy.Review). The
// host's refusals come back as refused, to stall the stack before anything
// else looks at the commit; the checklist's errors as lintErr, and its
// warnings are kept with the deploy. Either error stalls the stack with
// the rule, service and field of each finding; the live stack stays as it
// is.
func (s *stack) review(hash string, p *types.Project) (warnings []string, refused, lintErr error) {
	// A repo policy that cannot be read still lets the host judge: the
	// host's refusal is what a person must see first.
	repo, repoErr := s.repoPolicy(hash)
	src, err := lint.ReadSources(s.dir, s.c.o.Env, s.c.stackPath(s.name))
	if err != nil {
		return nil, err, nil
	}
	r := s.c.o.Policy.Review(p, repo, s.policyTarget(src))
	if refusals := lint.Active(r.Host); len(refusals) > 0 {
		return nil, reconcile.Stalling(refusal(refusals)), nil
	}
	if repoErr != nil {
		return nil, repoErr, nil
	}
	var errs []string
	for _, f := range lint.Active(r.Lint) {
		switch f.Severity {
		case lint.SeverityError:
			errs = append(errs, f.String())
		case lint.SeverityWarning:
			warnings = append(warnings, f.String())
		}
	}
	if len(errs) > 0 {
		return nil, nil, reconcile.Stalling(fmt.Errorf("lint: %d error(s) (the host's berth.yaml policy.exceptions can accept one, with a reason):\n%s", len(errs), strings.Join(errs, "\n")))
	}
	return warnings, nil, nil
}

// policyFile is the repo's lint policy, at its root.
const policyFile = ".berth/policy.yaml"

// repoPolicy is the repo's lint policy at a commit: none when the file is
// not there; one that does not parse stalls the stack, a failed Git read
// is retried.
func (s *stack) repoPolicy(hash string) (lint.Policy, error) {
	data, err := s.c.o.Source.ReadFile(hash, policyFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return lint.Policy{}, nil
	case errors.Is(err, gitsource.ErrTooLarge):
		return lint.Policy{}, reconcile.Stalling(err)
	case err != nil:
		return lint.Policy{}, reconcile.Retrying("Git read failed", fmt.Errorf("read %s: %w", policyFile, err))
	}
	pol, err := lint.ParsePolicyRules(data, policyFile, policy.Rules())
	if err != nil {
		return lint.Policy{}, reconcile.Stalling(err)
	}
	return pol, nil
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
