package load

import (
	"bytes"
	"os"
	"regexp"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/budget"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
)

// envFileKeysOf lists, by service, the variables its env files set.
func envFileKeysOf(p *types.Project) map[string][]string {
	out := map[string][]string{}
	for name, s := range p.Services {
		for _, ef := range s.EnvFiles {
			out[name] = append(out[name], envFileKeys(ef.Path)...)
		}
	}
	return out
}

// learnEnv teaches r the values env files put in the services'
// environment: keys are envFileKeysOf, taken before they were merged.
func learnEnv(r *compose.Redactor, p *types.Project, keys map[string][]string) {
	for name, ks := range keys {
		env := p.Services[name].Environment
		for _, k := range ks {
			if v := env[k]; v != nil {
				r.Add(*v)
			}
		}
	}
}

// learnInterpolation teaches r, when the process environment takes part in
// interpolation, the values of the variables the compose files name.
func learnInterpolation(r *compose.Redactor, files []string, osEnv bool) {
	if !osEnv {
		return
	}
	for _, f := range files {
		data, err := budget.ReadFile(f, f, MaxStackFileSize)
		if err != nil {
			continue
		}
		for _, m := range interpolated.FindAllStringSubmatch(string(data), -1) {
			if v, ok := os.LookupEnv(m[1]); ok {
				r.Add(v)
			}
		}
	}
}

// interpolated finds the variables a compose file interpolates: $NAME,
// ${NAME}, ${NAME:-default}, ...
var interpolated = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// envFileKeys lists the variables an env file sets; none when it does not
// parse (the load reports that).
func envFileKeys(path string) []string {
	data, err := budget.ReadFile(path, path, MaxStackFileSize)
	if err != nil {
		return nil
	}
	m, err := dotenv.ParseWithLookup(bytes.NewReader(data), func(string) (string, bool) { return "", true })
	if err != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
