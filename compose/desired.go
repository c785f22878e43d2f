package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
)

// LabelBerthFields holds a short hash of each service field, so that a plan
// can say which fields changed ("environment changed") without storing the
// values themselves on the container.
const LabelBerthFields = "dev.berth.fields"

// Desired is the state a project's files ask for, computed without the engine.
type Desired struct {
	Project  string
	Services []DesiredService // in dependency order
	Networks []DesiredResource
	Volumes  []DesiredResource
}

// DesiredService is one service's wanted containers.
type DesiredService struct {
	Name     string
	Image    string
	Replicas int
	Hash     string
	// Fields maps each set service field to a short hash of its value.
	Fields map[string]string
	// ContainerName is the fixed name from container_name, if any.
	ContainerName string
	// Networks are the engine names of the networks the service joins.
	Networks []string
	// Volumes are the engine names of the named volumes it mounts.
	Volumes []string
	// Refs are the services whose containers this one points at
	// (network_mode/ipc/pid service:X, volumes_from); it is recreated with
	// them, and its Hash is only final once their container IDs are known.
	Refs []string
	// Config is the service as loaded, kept for services with Refs.
	Config    *types.ServiceConfig `json:"-"`
	DependsOn []string
	// OneShot is a service whose containers may stay exited after a clean
	// exit: its restart policy is none or on-failure, or it is a migration
	// (x-berth role: migrate), which runs once per change.
	OneShot bool
	// PullPolicy is the service's pull_policy: "always" pulls on every
	// apply, "never" refuses a missing image; anything else pulls a missing
	// image.
	PullPolicy string
}

// DesiredResource is a network or volume of the project.
type DesiredResource struct {
	Key      string // the key in the compose file
	Name     string // the engine name
	External bool
	Hash     string
}

// NewDesired computes the desired state of a loaded project.
func NewDesired(p *types.Project) (*Desired, error) {
	d := &Desired{Project: p.Name}
	order, err := dependencyOrder(p)
	if err != nil {
		return nil, err
	}
	for _, name := range order {
		ds, err := NewDesiredService(p, p.Services[name])
		if err != nil {
			return nil, fmt.Errorf("service %q: %w", name, err)
		}
		d.Services = append(d.Services, ds)
	}
	for _, key := range sortedKeys(p.Networks) {
		n := p.Networks[key]
		h, err := NetworkHash(n)
		if err != nil {
			return nil, err
		}
		d.Networks = append(d.Networks, DesiredResource{Key: key, Name: n.Name, External: bool(n.External), Hash: h})
	}
	for _, key := range sortedKeys(p.Volumes) {
		v := p.Volumes[key]
		h, err := VolumeHash(v)
		if err != nil {
			return nil, err
		}
		d.Volumes = append(d.Volumes, DesiredResource{Key: key, Name: v.Name, External: bool(v.External), Hash: h})
	}
	return d, nil
}

// NewDesiredService is one service of the desired state: its hashes,
// replicas, networks and volumes, as BuildPlan compares them.
func NewDesiredService(p *types.Project, s types.ServiceConfig) (DesiredService, error) {
	hash, err := ServiceHash(s)
	if err != nil {
		return DesiredService{}, err
	}
	fields, err := FieldHashes(s)
	if err != nil {
		return DesiredService{}, err
	}
	ds := DesiredService{
		Name:          s.Name,
		Image:         s.Image,
		Replicas:      Replicas(s),
		Hash:          hash,
		Fields:        fields,
		ContainerName: s.ContainerName,
		DependsOn:     sortedKeys(s.DependsOn),
		PullPolicy:    s.PullPolicy,
	}
	switch RestartPolicy(s).Name {
	case "", container.RestartPolicyDisabled, container.RestartPolicyOnFailure:
		ds.OneShot = true
	}
	if IsMigration(s) {
		ds.OneShot = true
	}
	if ds.Refs = ServiceRefs(s); len(ds.Refs) > 0 {
		cfg := s
		ds.Config = &cfg
	}
	if s.NetworkMode == "" {
		for _, key := range sortedKeys(s.Networks) {
			if n, ok := p.Networks[key]; ok {
				ds.Networks = append(ds.Networks, n.Name)
			}
		}
	}
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeVolume || v.Source == "" {
			continue
		}
		if pv, ok := p.Volumes[v.Source]; ok {
			ds.Volumes = append(ds.Volumes, pv.Name)
		}
	}
	return ds, nil
}

// Replicas is the number of containers a service wants: scale, then
// deploy.replicas, then 1.
func Replicas(s types.ServiceConfig) int {
	if s.Scale != nil {
		return *s.Scale
	}
	if s.Deploy != nil && s.Deploy.Replicas != nil {
		return *s.Deploy.Replicas
	}
	return 1
}

// FieldHashes returns an 8-hex-digit hash of each field that the config
// hash covers, and of each stack file the service mounts from a copy (see
// RepoMount). Equal maps mean equal services; differing keys name what
// changed.
func FieldHashes(s types.ServiceConfig) (map[string]string, error) {
	mounts := RepoMounts(s)
	raw, err := json.Marshal(hashedForm(withoutCopies(s, mounts)))
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		sum := sha256.Sum256(v)
		out[k] = hex.EncodeToString(sum[:4])
	}
	for _, m := range mounts {
		sum := sha256.Sum256([]byte(m.Object))
		out[m.field()] = hex.EncodeToString(sum[:4])
	}
	return out, nil
}

// EncodeFields renders field hashes as a label value: "k=h,k=h" sorted.
func EncodeFields(f map[string]string) string {
	parts := make([]string, 0, len(f))
	for _, k := range sortedKeys(f) {
		parts = append(parts, k+"="+f[k])
	}
	return strings.Join(parts, ",")
}

// DecodeFields parses a label made by EncodeFields.
func DecodeFields(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

// ChangedFields names the fields whose hashes differ, sorted.
func ChangedFields(want, have map[string]string) []string {
	var out []string
	for k, v := range want {
		if have[k] != v {
			out = append(out, k)
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// dependencyOrder sorts services so that each comes after what it depends
// on: depends_on, network_mode service:X and volumes_from. Ties sort by name
// so plans are stable.
func dependencyOrder(p *types.Project) ([]string, error) {
	deps := map[string][]string{}
	for name, s := range p.Services {
		for d := range s.DependsOn {
			deps[name] = append(deps[name], d)
		}
		deps[name] = append(deps[name], ServiceRefs(s)...)
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("dependency cycle: %s", strings.Join(append(path, name), " → "))
		case 2:
			return nil
		}
		state[name] = 1
		ds := deps[name]
		sort.Strings(ds)
		for _, d := range ds {
			if _, ok := p.Services[d]; !ok {
				continue // a disabled or missing dependency is compose-go's to report
			}
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, name)
		return nil
	}
	for _, name := range sortedKeys(p.Services) {
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// RestartPolicy reads restart, overridden by deploy.restart_policy as in
// compose.
func RestartPolicy(s types.ServiceConfig) container.RestartPolicy {
	var rp container.RestartPolicy
	if s.Restart != "" {
		name, attempts, _ := strings.Cut(s.Restart, ":")
		rp.Name = restartMode(name)
		rp.MaximumRetryCount, _ = strconv.Atoi(attempts)
	}
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil {
		dp := s.Deploy.RestartPolicy
		rp = container.RestartPolicy{Name: restartMode(dp.Condition)}
		if dp.MaxAttempts != nil {
			rp.MaximumRetryCount = int(*dp.MaxAttempts)
		}
	}
	return rp
}

func restartMode(condition string) container.RestartPolicyMode {
	switch condition {
	case "no", "none":
		return container.RestartPolicyDisabled
	case "always", "any":
		return container.RestartPolicyAlways
	case "on-failure":
		return container.RestartPolicyOnFailure
	case "unless-stopped":
		return container.RestartPolicyUnlessStopped
	}
	return container.RestartPolicyMode(condition)
}
