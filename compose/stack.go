package compose

import (
	"context"

	"github.com/compose-spec/compose-go/v2/types"
)

// Diff observes the live project and plans the way to its desired state.
func Diff(ctx context.Context, e Observer, p *types.Project) (*Desired, Plan, error) {
	d, err := NewDesired(p)
	if err != nil {
		return nil, Plan{}, err
	}
	live, err := Observe(ctx, e, d)
	if err != nil {
		return nil, Plan{}, err
	}
	pl, err := BuildPlan(d, live)
	if err != nil {
		return nil, Plan{}, err
	}
	return d, pl, nil
}

// Masked returns a copy of the project whose environment values read
// "********", so that config and plan output never shows a secret.
func Masked(p *types.Project) *types.Project {
	cp := *p
	cp.Services = types.Services{}
	for name, s := range p.Services {
		env := types.MappingWithEquals{}
		for k, v := range s.Environment {
			if v == nil {
				env[k] = nil
				continue
			}
			masked := "********"
			env[k] = &masked
		}
		s.Environment = env
		cp.Services[name] = s
	}
	cp.Environment = nil
	return &cp
}
