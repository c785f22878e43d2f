package convert

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// ContainerSpec is everything needed to create one container of a service.
type ContainerSpec struct {
	Name       string // container_name, or <project>-<service>-<number>
	Config     *container.Config
	HostConfig *container.HostConfig
	// Networking holds the endpoint of the first network only: engines before
	// API 1.44 accept one network at create time.
	Networking *network.NetworkingConfig
	// ExtraNetworks are connected with NetworkConnect after create, in order.
	ExtraNetworks []NetworkAttachment
}

// NetworkAttachment is one network a container joins after it is created.
type NetworkAttachment struct {
	Network  string // engine name
	Endpoint *network.EndpointSettings
}

// SpecInput carries what the spec needs beyond the project.
type SpecInput struct {
	Number int               // container-number
	Labels map[string]string // extra labels (config-hash, image id, depends_on, dev.berth.*), merged over service labels + CustomLabels
	// ContainerFor resolves network_mode "service:X" and volumes_from to a live container ID.
	ContainerFor func(service string) (string, error)
}

// nameSeparator joins project, service and number in container names, as
// compose's api.Separator does.
const nameSeparator = "-"

// BuildContainerSpec converts one container of service s into the engine
// API's create request. The project must have passed CheckSupported: fields
// berth refuses are not looked at here.
func BuildContainerSpec(p *types.Project, s types.ServiceConfig, in SpecInput) (ContainerSpec, error) {
	spec, err := buildContainerSpec(p, s, in)
	if err != nil {
		return ContainerSpec{}, fmt.Errorf("service %q: %w", s.Name, err)
	}
	return spec, nil
}

func buildContainerSpec(p *types.Project, s types.ServiceConfig, in SpecInput) (ContainerSpec, error) {
	if s.Image == "" {
		return ContainerSpec{}, fmt.Errorf("no image: berth never builds")
	}
	if s.ContainerName != "" && in.Number > 1 {
		return ContainerSpec{}, fmt.Errorf("container_name %q allows one container, not number %d", s.ContainerName, in.Number)
	}
	s, err := resolveServiceRefs(s, in.ContainerFor)
	if err != nil {
		return ContainerSpec{}, err
	}
	name := containerName(p.Name, s, in.Number)
	cfg, err := containerConfig(s, mergeLabels(s.Labels, s.CustomLabels, in.Labels))
	if err != nil {
		return ContainerSpec{}, err
	}
	host, err := hostConfig(p, s)
	if err != nil {
		return ContainerSpec{}, err
	}
	mode, first, extra, err := networking(p, s, name)
	if err != nil {
		return ContainerSpec{}, err
	}
	host.NetworkMode = mode
	return ContainerSpec{Name: name, Config: cfg, HostConfig: host, Networking: first, ExtraNetworks: extra}, nil
}

// containerName follows compose: container_name, or project-service-number.
func containerName(project string, s types.ServiceConfig, number int) string {
	if s.ContainerName != "" {
		return s.ContainerName
	}
	return strings.Join([]string{project, s.Name, strconv.Itoa(number)}, nameSeparator)
}

// resolveServiceRefs replaces references to other services (network_mode,
// ipc and pid "service:X", volumes_from X) with a live container, the way
// compose does just before it creates a container. s is a copy; its slices
// are replaced, never written through.
func resolveServiceRefs(s types.ServiceConfig, containerFor func(string) (string, error)) (types.ServiceConfig, error) {
	resolve := func(field, svc string) (string, error) {
		if containerFor == nil {
			return "", fmt.Errorf("%s refers to service %q but no container lookup was given", field, svc)
		}
		id, err := containerFor(svc)
		if err != nil {
			return "", fmt.Errorf("%s: container of service %q: %w", field, svc, err)
		}
		return id, nil
	}
	for _, ns := range []struct {
		field string
		value *string
	}{{"network_mode", &s.NetworkMode}, {"ipc", &s.Ipc}, {"pid", &s.Pid}} {
		svc, ok := strings.CutPrefix(*ns.value, types.ServicePrefix)
		if !ok {
			continue
		}
		id, err := resolve(ns.field, svc)
		if err != nil {
			return s, err
		}
		*ns.value = types.ContainerPrefix + id
	}
	if len(s.VolumesFrom) == 0 {
		return s, nil
	}
	from := make([]string, 0, len(s.VolumesFrom))
	for _, v := range s.VolumesFrom {
		if ref, ok := strings.CutPrefix(v, types.ContainerPrefix); ok {
			from = append(from, ref)
			continue
		}
		svc, mode, hasMode := strings.Cut(v, ":")
		id, err := resolve("volumes_from", svc)
		if err != nil {
			return s, err
		}
		if hasMode {
			id += ":" + mode
		}
		from = append(from, id)
	}
	s.VolumesFrom = from
	return s, nil
}

func containerConfig(s types.ServiceConfig, labels map[string]string) (*container.Config, error) {
	health, err := healthConfig(s.HealthCheck)
	if err != nil {
		return nil, err
	}
	exposed, err := exposedPorts(s)
	if err != nil {
		return nil, err
	}
	return &container.Config{
		Hostname:        s.Hostname,
		Domainname:      s.DomainName,
		User:            s.User,
		AttachStdout:    true,
		AttachStderr:    true,
		ExposedPorts:    exposed,
		Tty:             s.Tty,
		OpenStdin:       s.StdinOpen,
		Env:             environment(s.Environment),
		Cmd:             s.Command,
		Healthcheck:     health,
		Image:           s.Image,
		WorkingDir:      s.WorkingDir,
		Entrypoint:      s.Entrypoint,
		NetworkDisabled: s.NetworkMode == "disabled",
		Labels:          labels,
		StopSignal:      s.StopSignal,
		StopTimeout:     stopTimeout(s.StopGracePeriod),
	}, nil
}

// mergeLabels merges label sets, later ones winning.
func mergeLabels(sets ...map[string]string) map[string]string {
	merged := map[string]string{}
	for _, l := range sets {
		maps.Copy(merged, l)
	}
	return merged
}

// environment lists the service environment as sorted KEY=VALUE. A variable
// without a value is unset after resolution, so it is left out rather than
// passed as a bare name the engine would keep.
func environment(env types.MappingWithEquals) []string {
	var out []string
	for k, v := range env {
		if v != nil {
			out = append(out, k+"="+*v)
		}
	}
	slices.Sort(out)
	return out
}

func healthConfig(h *types.HealthCheckConfig) (*container.HealthConfig, error) {
	if h == nil {
		return nil, nil
	}
	if h.StartInterval != nil && h.StartPeriod == nil {
		// The engine ignores start_interval without start_period (moby#48874);
		// compose refuses it for the same reason.
		return nil, fmt.Errorf("healthcheck.start_interval needs healthcheck.start_period")
	}
	hc := &container.HealthConfig{
		Test:          h.Test,
		Interval:      duration(h.Interval),
		Timeout:       duration(h.Timeout),
		StartPeriod:   duration(h.StartPeriod),
		StartInterval: duration(h.StartInterval),
	}
	if h.Disable {
		hc.Test = []string{"NONE"}
	}
	if h.Retries != nil {
		hc.Retries = int(*h.Retries)
	}
	return hc, nil
}

func duration(d *types.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return time.Duration(*d)
}

// stopTimeout is stop_grace_period in whole seconds, as compose sends it.
func stopTimeout(d *types.Duration) *int {
	if d == nil {
		return nil
	}
	secs := int(time.Duration(*d).Seconds())
	return &secs
}

// nanoCPUs converts a fractional CPU count. The model holds a float32, so the
// value goes through its shortest decimal form: cpus 0.1 is 100000000, not
// the 100000001 a plain widening would give.
func nanoCPUs(cpus float32) int64 {
	if cpus == 0 {
		return 0
	}
	v, err := strconv.ParseFloat(strconv.FormatFloat(float64(cpus), 'f', -1, 32), 64)
	if err != nil {
		v = float64(cpus)
	}
	return int64(math.Round(v * 1e9))
}
