package compose

import (
	"github.com/compose-spec/compose-go/v2/types"
)

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
