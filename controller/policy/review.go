package policy

import (
	"slices"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose/lint"
)

// Review is a stack's verdict on a host: the production checklist under
// the repository's policy, and the host policy, with the host's
// exceptions marked on both. The two stay apart because the controller
// refuses a commit on the host's findings before it looks at the rest.
type Review struct {
	Lint []lint.Finding // the checklist's findings
	Host []lint.Finding // the host policy's refusals
}

// Review holds a loaded project to the checklist (with repo, the
// repository's policy) and to the host policy: the one judgement that
// `berth lint` prints and the controller enforces.
func (s Settings) Review(p *types.Project, repo lint.Policy, t Target) Review {
	return Review{Lint: s.Except(lint.Lint(p, t.Sources, repo)), Host: s.Except(s.Check(p, t))}
}

// All is every finding, sorted.
func (r Review) All() []lint.Finding {
	return lint.Sort(append(slices.Clone(r.Lint), r.Host...))
}
