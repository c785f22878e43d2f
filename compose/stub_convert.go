package compose

import "github.com/compose-spec/compose-go/v2/types"

// CheckSupported is a placeholder until convert.go lands.
func CheckSupported(p *types.Project) error { return nil }
