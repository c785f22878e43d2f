package compose

import (
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// ServiceRefs lists the services whose containers s points at through
// network_mode, ipc, pid (service:X) or volumes_from. Their containers' IDs
// end up in s's config hash, as they do in compose's, so s is recreated
// whenever one of them is.
func ServiceRefs(s types.ServiceConfig) []string {
	seen := map[string]bool{}
	for _, v := range []string{s.NetworkMode, s.Ipc, s.Pid} {
		if dep, ok := strings.CutPrefix(v, types.ServicePrefix); ok {
			seen[dep] = true
		}
	}
	for _, v := range s.VolumesFrom {
		name := strings.Split(v, ":")[0]
		if name != "container" {
			seen[name] = true
		}
	}
	refs := make([]string, 0, len(seen))
	for dep := range seen {
		refs = append(refs, dep)
	}
	sort.Strings(refs)
	return refs
}

// WithContainerRefs does to s what compose does just before it hashes a
// service at create: a reference to another service becomes the ID of that
// service's first container. volumes_from loses its access mode on the way,
// as it does in compose.
func WithContainerRefs(s types.ServiceConfig, ids map[string]string) types.ServiceConfig {
	ref := func(v string) string {
		if dep, ok := strings.CutPrefix(v, types.ServicePrefix); ok && ids[dep] != "" {
			return types.ContainerPrefix + ids[dep]
		}
		return v
	}
	s.NetworkMode = ref(s.NetworkMode)
	s.Ipc = ref(s.Ipc)
	s.Pid = ref(s.Pid)
	if len(s.VolumesFrom) > 0 {
		from := make([]string, len(s.VolumesFrom))
		for i, v := range s.VolumesFrom {
			parts := strings.Split(v, ":")
			switch {
			case parts[0] == "container" && len(parts) > 1:
				from[i] = parts[1]
			case ids[parts[0]] != "":
				from[i] = ids[parts[0]]
			default:
				from[i] = v
			}
		}
		s.VolumesFrom = from
	}
	return s
}
