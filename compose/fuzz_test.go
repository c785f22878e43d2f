package compose

import (
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// FuzzSettings: any x-berth mapping, of a stack or of a service, decodes
// or fails with an error, without a panic.
func FuzzSettings(f *testing.F) {
	for _, s := range []string{
		"hosts: [a, b]\nprune_volumes: true\n", "verify: [{http: http://web/health, timeout: 2s}]\n",
		"order: start-first\nparallelism: 2\nrole: migrate\n", "hosts: 3\n", "bake: -1s\n", "[1, 2]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var raw any
		if yaml.Unmarshal(data, &raw) != nil {
			return
		}
		for _, full := range []bool{false, true} {
			d := decoder{where: "x-berth", full: full}
			var s Settings
			d.stack(&s, raw)
			_ = d.err()
		}
		svc := types.ServiceConfig{Name: "web", Extensions: types.Extensions{"x-berth": raw}}
		_, _ = ReadServiceSettings(svc)
	})
}
