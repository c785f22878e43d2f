package apply

import (
	"context"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/observe"
	"github.com/compose-spec/compose-go/v2/types"
)

// Diff observes the live project and plans the way to its desired state.
func Diff(ctx context.Context, e observe.Observer, p *types.Project) (*compose.Desired, compose.Plan, error) {
	d, err := compose.NewDesired(p)
	if err != nil {
		return nil, compose.Plan{}, err
	}
	live, err := observe.Observe(ctx, e, d)
	if err != nil {
		return nil, compose.Plan{}, err
	}
	pl, err := compose.BuildPlan(d, live)
	if err != nil {
		return nil, compose.Plan{}, err
	}
	return d, pl, nil
}
