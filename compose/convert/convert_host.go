package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/berth-gitops/berth/compose"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"

	"github.com/berth-gitops/berth/compose/budget"
)

func hostConfig(p *types.Project, s types.ServiceConfig) (*container.HostConfig, error) {
	binds, mounts, err := volumeMounts(p, s)
	if err != nil {
		return nil, err
	}
	ports, err := portBindings(s)
	if err != nil {
		return nil, err
	}
	dns, err := parseAddrs("dns", s.DNS)
	if err != nil {
		return nil, err
	}
	secOpts, unconfined, err := securityOpts(p, s.SecurityOpt)
	if err != nil {
		return nil, err
	}
	h := &container.HostConfig{
		Binds:          binds,
		Mounts:         mounts,
		LogConfig:      logConfig(s.Logging),
		PortBindings:   ports,
		RestartPolicy:  compose.RestartPolicy(s),
		VolumeDriver:   s.VolumeDriver,
		VolumesFrom:    s.VolumesFrom,
		Annotations:    nonEmpty(s.Annotations),
		CapAdd:         s.CapAdd,
		CapDrop:        s.CapDrop,
		CgroupnsMode:   container.CgroupnsMode(s.Cgroup),
		DNS:            dns,
		DNSOptions:     s.DNSOpts,
		DNSSearch:      s.DNSSearch,
		ExtraHosts:     extraHosts(s.ExtraHosts),
		GroupAdd:       s.GroupAdd,
		IpcMode:        container.IpcMode(s.Ipc),
		OomScoreAdj:    int(s.OomScoreAdj),
		PidMode:        container.PidMode(s.Pid),
		Privileged:     s.Privileged,
		ReadonlyRootfs: s.ReadOnly,
		SecurityOpt:    secOpts,
		StorageOpt:     s.StorageOpt,
		Tmpfs:          tmpfsMap(s.Tmpfs),
		UTSMode:        container.UTSMode(s.Uts),
		UsernsMode:     container.UsernsMode(s.UserNSMode),
		ShmSize:        int64(s.ShmSize),
		Sysctls:        nonEmpty(s.Sysctls),
		Runtime:        s.Runtime,
		Isolation:      container.Isolation(s.Isolation),
		Resources:      resources(s),
		Init:           s.Init,
	}
	if unconfined {
		// systempaths=unconfined is a CLI option, not an engine one: it means
		// "mask nothing, make nothing read-only".
		h.MaskedPaths = []string{}
		h.ReadonlyPaths = []string{}
	}
	return h, nil
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func logConfig(l *types.LoggingConfig) container.LogConfig {
	if l == nil {
		return container.LogConfig{}
	}
	return container.LogConfig{Type: l.Driver, Config: nonEmpty(l.Options)}
}

// resources maps the service-level limits, then lets deploy.resources win,
// as compose does.
func resources(s types.ServiceConfig) container.Resources {
	r := container.Resources{
		CgroupParent:       s.CgroupParent,
		CPUShares:          s.CPUShares,
		CPUPeriod:          s.CPUPeriod,
		CPUQuota:           s.CPUQuota,
		CPURealtimePeriod:  s.CPURTPeriod,
		CPURealtimeRuntime: s.CPURTRuntime,
		CpusetCpus:         s.CPUSet,
		NanoCPUs:           nanoCPUs(s.CPUS),
		Memory:             int64(s.MemLimit),
		MemoryReservation:  int64(s.MemReservation),
		MemorySwap:         int64(s.MemSwapLimit),
		DeviceCgroupRules:  s.DeviceCgroupRules,
		Ulimits:            ulimits(s.Ulimits),
	}
	if s.MemSwappiness != 0 {
		v := int64(s.MemSwappiness)
		r.MemorySwappiness = &v
	}
	if s.OomKillDisable {
		v := true
		r.OomKillDisable = &v
	}
	if s.PidsLimit != 0 {
		v := s.PidsLimit
		r.PidsLimit = &v
	}
	if s.Deploy != nil {
		applyLimits(&r, s.Deploy.Resources.Limits)
		applyReservations(&r, s.Deploy.Resources.Reservations)
	}
	addDevices(&r, s.Devices)
	for _, g := range s.Gpus {
		// gpus: entries always ask for the gpu capability.
		r.DeviceRequests = append(r.DeviceRequests, deviceRequest(g, "gpu"))
	}
	return r
}

func applyLimits(r *container.Resources, l *types.Resource) {
	if l == nil {
		return
	}
	if l.MemoryBytes != 0 {
		r.Memory = int64(l.MemoryBytes)
	}
	if l.NanoCPUs != 0 {
		r.NanoCPUs = nanoCPUs(float32(l.NanoCPUs))
	}
	if l.Pids > 0 {
		v := l.Pids
		r.PidsLimit = &v
	}
}

// applyReservations maps what a single engine can reserve: memory (a soft
// limit) and devices. CPU and pids reservations are swarm scheduling hints;
// CheckSupported refuses them.
func applyReservations(r *container.Resources, res *types.Resource) {
	if res == nil {
		return
	}
	if res.MemoryBytes != 0 {
		r.MemoryReservation = int64(res.MemoryBytes)
	}
	for _, d := range res.Devices {
		r.DeviceRequests = append(r.DeviceRequests, deviceRequest(d))
	}
}

func deviceRequest(d types.DeviceRequest, extraCaps ...string) container.DeviceRequest {
	var caps [][]string
	if all := append(slices.Clone(d.Capabilities), extraCaps...); len(all) > 0 {
		caps = [][]string{all}
	}
	return container.DeviceRequest{
		Driver:       d.Driver,
		Count:        int(d.Count),
		DeviceIDs:    d.IDs,
		Capabilities: caps,
		Options:      nonEmpty(d.Options),
	}
}

// addDevices maps devices: entries; a CDI name (vendor/class=name, given as
// both source and target) becomes a request to the cdi driver, as in compose.
func addDevices(r *container.Resources, devices []types.DeviceMapping) {
	var cdi []string
	for _, d := range devices {
		if d.Source == d.Target && isCDIName(d.Source) {
			cdi = append(cdi, d.Source)
			continue
		}
		r.Devices = append(r.Devices, container.DeviceMapping{
			PathOnHost:        d.Source,
			PathInContainer:   d.Target,
			CgroupPermissions: d.Permissions,
		})
	}
	if len(cdi) > 0 {
		r.DeviceRequests = append(r.DeviceRequests, container.DeviceRequest{Driver: "cdi", DeviceIDs: cdi})
	}
}

func isCDIName(s string) bool {
	kind, name, ok := strings.Cut(s, "=")
	return ok && name != "" && !strings.HasPrefix(kind, "/") && strings.Contains(kind, "/")
}

// ulimits lists ulimits sorted by name; a single value sets soft and hard.
func ulimits(m map[string]*types.UlimitsConfig) []*container.Ulimit {
	var out []*container.Ulimit
	for _, name := range slices.Sorted(maps.Keys(m)) {
		u := m[name]
		soft, hard := u.Single, u.Single
		if u.Soft != 0 {
			soft = u.Soft
		}
		if u.Hard != 0 {
			hard = u.Hard
		}
		out = append(out, &container.Ulimit{Name: name, Soft: int64(soft), Hard: int64(hard)})
	}
	return out
}

// extraHosts renders host=ip pairs the way the engine wants them (host:ip),
// sorted so that the spec is stable.
func extraHosts(h types.HostsList) []string {
	if len(h) == 0 {
		return nil
	}
	l := h.AsList(":")
	slices.Sort(l)
	return l
}

// tmpfsMap splits tmpfs: entries "path[:options]".
func tmpfsMap(entries []string) map[string]string {
	if len(entries) == 0 {
		return nil
	}
	m := make(map[string]string, len(entries))
	for _, e := range entries {
		path, opts, _ := strings.Cut(e, ":")
		m[path] = opts
	}
	return m
}

func parseAddrs(field string, list []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range list {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not an IP address", field, s)
		}
		out = append(out, a)
	}
	return out, nil
}

// securityOpts validates security_opt like the docker CLI does and inlines
// a seccomp profile file, because the engine takes the profile's JSON, not
// its path. "systempaths=unconfined" is reported separately: it is not an
// engine option.
func securityOpts(p *types.Project, opts []string) ([]string, bool, error) {
	var (
		out        []string
		unconfined bool
	)
	for _, opt := range opts {
		if opt == "systempaths=unconfined" {
			unconfined = true
			continue
		}
		key, value, ok := strings.Cut(opt, "=")
		if !ok && opt != "no-new-privileges" {
			key, value, ok = strings.Cut(opt, ":")
			if !ok {
				return nil, false, fmt.Errorf("security_opt: invalid option %q", opt)
			}
		}
		if key == "seccomp" && value != "unconfined" && value != "builtin" {
			profile, err := seccompProfile(p, value)
			if err != nil {
				return nil, false, err
			}
			opt = "seccomp=" + profile
		}
		out = append(out, opt)
	}
	return out, unconfined, nil
}

func seccompProfile(p *types.Project, path string) (string, error) {
	raw, err := budget.ReadFile(path, p.RelativePath(path), budget.Compose.Bytes)
	if err != nil {
		return "", fmt.Errorf("security_opt: seccomp profile: %w", err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", fmt.Errorf("security_opt: seccomp profile %s: %w", path, err)
	}
	return b.String(), nil
}
