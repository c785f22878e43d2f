package convert

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/berth-gitops/berth/compose"
	"github.com/compose-spec/compose-go/v2/types"
)

// Every field of compose-go's ServiceConfig is in one of three groups.
//
// Converted by BuildContainerSpec: annotations, cap_add, cap_drop, cgroup,
// cgroup_parent, command, configs (file), container_name, cpu_period,
// cpu_quota, cpu_rt_period, cpu_rt_runtime, cpus, cpuset, cpu_shares,
// deploy.resources (limits cpus/memory/pids, reservations memory/devices),
// deploy.restart_policy (condition, max_attempts), device_cgroup_rules,
// devices, dns, dns_opt, dns_search, domainname, entrypoint, environment,
// expose, extra_hosts, gpus, group_add, healthcheck, hostname, image, init,
// ipc, isolation, labels, logging, mac_address, mem_limit, mem_reservation,
// mem_swappiness, memswap_limit, network_mode, networks, oom_kill_disable,
// oom_score_adj, pid, pids_limit, ports, privileged, read_only, restart,
// runtime, secrets (file), security_opt, shm_size, stdin_open,
// stop_grace_period, stop_signal, storage_opt, sysctls, tmpfs, tty, ulimits,
// user, userns_mode, uts, volumes, volumes_from, working_dir.
//
// Harmless, with nothing to create: attach, depends_on, deploy.mode
// (replicated, global), deploy.replicas, scale, develop, env_file (merged
// into environment by Load), extends (resolved by the loader), platform (it
// selects the image at pull time), profiles, pull_policy, x- extensions, and
// build when image is set (berth never builds; it runs the image).
//
// Everything else is refused by CheckSupported below, never dropped
// (volume_driver by the compose schema already).

// CheckSupported returns an error naming the service and the field for every
// service field berth does not convert (never silently dropped).
func CheckSupported(p *types.Project) error {
	var msgs []string
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		for _, r := range refusals(p, p.Services[name]) {
			m := fmt.Sprintf("service %q: field %q is not supported by berth", name, r.field)
			if r.why != "" {
				m += ": " + r.why
			}
			msgs = append(msgs, m)
		}
	}
	return joinSorted(msgs)
}

type refusal struct{ field, why string }

func refusals(p *types.Project, s types.ServiceConfig) []refusal {
	var out []refusal
	refuse := func(cond bool, field, why string) {
		if cond {
			out = append(out, refusal{field, why})
		}
	}
	refuse(s.Build != nil && s.Image == "", "build", "berth never builds images; set image")
	refuse(s.Provider != nil, "provider", "")
	refuse(s.BlkioConfig != nil, "blkio_config", "")
	refuse(s.CPUCount != 0, "cpu_count", "Windows only")
	refuse(s.CPUPercent != 0, "cpu_percent", "Windows only")
	refuse(s.CredentialSpec != nil, "credential_spec", "Windows only")
	refuse(s.Dockerfile != "", "dockerfile", "")
	refuse(len(s.ExternalLinks) > 0, "external_links", "use networks")
	refuse(len(s.LabelFiles) > 0, "label_file", "")
	refuse(len(s.Links) > 0, "links", "use networks and aliases")
	refuse(s.LogDriver != "", "log_driver", "use logging.driver")
	refuse(len(s.LogOpt) > 0, "log_opt", "use logging.options")
	refuse(len(s.Models) > 0, "models", "")
	refuse(s.Net != "", "net", "use network_mode")
	refuse(len(s.PostStart) > 0, "post_start", "")
	refuse(len(s.PreStop) > 0, "pre_stop", "")
	refuse(s.UseAPISocket, "use_api_socket", "")
	refuse(s.MacAddress != "" && s.NetworkMode != "", "mac_address", "a MAC address belongs to a network, and network_mode is set")
	if h := s.HealthCheck; h != nil {
		refuse(h.StartInterval != nil && h.StartPeriod == nil, "healthcheck.start_interval", "it needs healthcheck.start_period")
	}
	out = append(out, deployRefusals(s.Deploy)...)
	out = append(out, volumeRefusals(s.Volumes)...)
	out = append(out, fileRefusals("secret", secretRefs(s.Secrets), func(k string) (types.FileObjectConfig, bool) {
		d, ok := p.Secrets[k]
		return types.FileObjectConfig(d), ok
	})...)
	out = append(out, fileRefusals("config", configRefs(s.Configs), func(k string) (types.FileObjectConfig, bool) {
		d, ok := p.Configs[k]
		return types.FileObjectConfig(d), ok
	})...)
	return out
}

// deployRefusals refuses the swarm fields that have no meaning for one
// engine. A container would run, but not the way the file says.
func deployRefusals(d *types.DeployConfig) []refusal {
	if d == nil {
		return nil
	}
	var out []refusal
	refuse := func(cond bool, field, why string) {
		if cond {
			out = append(out, refusal{"deploy." + field, why})
		}
	}
	refuse(d.Mode != "" && d.Mode != "replicated" && d.Mode != "global", "mode", fmt.Sprintf("mode %q", d.Mode))
	refuse(len(d.Labels) > 0, "labels", "swarm service labels; use labels")
	refuse(d.UpdateConfig != nil, "update_config", "set the rollout strategy in x-berth")
	refuse(d.RollbackConfig != nil, "rollback_config", "berth rolls back to the last good commit")
	refuse(d.EndpointMode != "", "endpoint_mode", "")
	pl := d.Placement
	refuse(len(pl.Constraints) > 0 || len(pl.Preferences) > 0 || pl.MaxReplicas != 0, "placement", "")
	if rp := d.RestartPolicy; rp != nil {
		refuse(rp.Delay != nil, "restart_policy.delay", "")
		refuse(rp.Window != nil, "restart_policy.window", "")
	}
	if l := d.Resources.Limits; l != nil {
		refuse(len(l.Devices) > 0, "resources.limits.devices", "reserve devices instead")
		refuse(len(l.GenericResources) > 0, "resources.limits.generic_resources", "")
	}
	if r := d.Resources.Reservations; r != nil {
		refuse(r.NanoCPUs != 0, "resources.reservations.cpus", "a swarm scheduling hint; use limits")
		refuse(r.Pids != 0, "resources.reservations.pids", "use limits")
		refuse(len(r.GenericResources) > 0, "resources.reservations.generic_resources", "")
	}
	return out
}

func volumeRefusals(volumes []types.ServiceVolumeConfig) []refusal {
	var out []refusal
	for _, v := range volumes {
		switch v.Type {
		case types.VolumeTypeBind, types.VolumeTypeVolume, types.VolumeTypeTmpfs, types.VolumeTypeImage:
		default:
			out = append(out, refusal{"volumes.type", fmt.Sprintf("type %q at %s", v.Type, v.Target)})
		}
		if v.Type == types.VolumeTypeBind && v.Bind != nil && v.Bind.SELinux != "" && bindNeedsMountAPI(v.Bind) {
			out = append(out, refusal{"volumes.bind.selinux", fmt.Sprintf("at %s it cannot go with propagation, recursive or create_host_path: false", v.Target)})
		}
	}
	return out
}

func secretRefs(refs []types.ServiceSecretConfig) []types.FileReferenceConfig {
	out := make([]types.FileReferenceConfig, len(refs))
	for i, r := range refs {
		out[i] = types.FileReferenceConfig(r)
	}
	return out
}

func configRefs(refs []types.ServiceConfigObjConfig) []types.FileReferenceConfig {
	out := make([]types.FileReferenceConfig, len(refs))
	for i, r := range refs {
		out[i] = types.FileReferenceConfig(r)
	}
	return out
}

// fileRefusals accepts secrets and configs backed by a file only: berth
// bind-mounts them, and a bind mount keeps the file's owner and mode.
func fileRefusals(kind string, refs []types.FileReferenceConfig, lookup func(string) (types.FileObjectConfig, bool)) []refusal {
	var out []refusal
	field := kind + "s"
	for _, ref := range refs {
		def, ok := lookup(ref.Source)
		var why string
		switch {
		case !ok:
			why = "undefined"
		case bool(def.External):
			why = "external"
		case def.Environment != "":
			why = "from environment"
		case def.Content != "":
			why = "from content"
		case def.Driver != "":
			why = "with driver"
		case def.TemplateDriver != "":
			why = "with template_driver"
		case def.File == "":
			why = "without file"
		}
		if why != "" {
			out = append(out, refusal{field, fmt.Sprintf("%s %q is %s; berth mounts only file: %ss", kind, ref.Source, why, kind)})
		}
		for _, attr := range []struct {
			name string
			set  bool
		}{{"uid", ref.UID != ""}, {"gid", ref.GID != ""}, {"mode", ref.Mode != nil}} {
			if attr.set {
				out = append(out, refusal{field + "." + attr.name, fmt.Sprintf("%s %q is bind-mounted with the host file's %s", kind, ref.Source, attr.name)})
			}
		}
	}
	return out
}

// CheckEngineSupport returns an error for every field of p that the engine
// speaking apiVersion would accept and silently ignore, because the field
// arrived in a later API version. Call it once the engine is known, before
// creating anything.
func CheckEngineSupport(p *types.Project, apiVersion string) error {
	return CheckEngineRequirements(EngineRequirements(p), apiVersion)
}

// EngineRequirement is a field of a stack that needs a given engine API
// version or newer.
type EngineRequirement struct {
	Subject string `json:"subject"` // `service "web"`, `network "backend"`
	Field   string `json:"field"`
	Since   string `json:"since"`
}

// EngineRequirements lists the fields of p that not every supported engine
// honours.
func EngineRequirements(p *types.Project) []EngineRequirement {
	var out []EngineRequirement
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		for _, f := range engineFeatures(p.Services[name]) {
			out = append(out, EngineRequirement{Subject: fmt.Sprintf("service %q", name), Field: f.field, Since: f.since})
		}
	}
	for _, key := range slices.Sorted(maps.Keys(p.Networks)) {
		n := p.Networks[key]
		if !bool(n.External) && n.EnableIPv4 != nil {
			out = append(out, EngineRequirement{Subject: fmt.Sprintf("network %q", key), Field: "enable_ipv4", Since: "1.47"})
		}
	}
	return out
}

// CheckEngineRequirements returns an error for every requirement that the
// engine speaking apiVersion does not meet.
func CheckEngineRequirements(reqs []EngineRequirement, apiVersion string) error {
	var msgs []string
	for _, r := range reqs {
		if compose.VersionLess(apiVersion, r.Since) {
			msgs = append(msgs, fmt.Sprintf("%s: field %q needs Docker Engine API %s; the engine speaks %s", r.Subject, r.Field, r.Since, apiVersion))
		}
	}
	return joinSorted(msgs)
}

type engineFeature struct{ field, since string }

func engineFeatures(s types.ServiceConfig) []engineFeature {
	var out []engineFeature
	uses := func(cond bool, field, since string) {
		if cond {
			out = append(out, engineFeature{field, since})
		}
	}
	uses(len(s.Annotations) > 0, "annotations", "1.43")
	uses(s.MacAddress != "", "mac_address", "1.44")
	uses(s.HealthCheck != nil && s.HealthCheck.StartInterval != nil, "healthcheck.start_interval", "1.44")
	for key, n := range s.Networks {
		if n == nil {
			continue
		}
		uses(n.MacAddress != "", "networks."+key+".mac_address", "1.44")
		uses(n.GatewayPriority != 0, "networks."+key+".gw_priority", "1.48")
		uses(n.InterfaceName != "", "networks."+key+".interface_name", "1.49")
	}
	for _, v := range s.Volumes {
		uses(v.Volume != nil && v.Volume.Subpath != "", "volumes.volume.subpath", "1.45")
		uses(v.Bind != nil && (v.Bind.Recursive == "writable" || v.Bind.Recursive == "readonly"), "volumes.bind.recursive", "1.44")
		uses(v.Type == types.VolumeTypeImage, "volumes.type", "1.48")
	}
	return out
}

// joinSorted turns messages into one error, sorted and without repeats.
func joinSorted(msgs []string) error {
	slices.Sort(msgs)
	msgs = slices.Compact(msgs)
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		errs[i] = errors.New(m)
	}
	return errors.Join(errs...)
}
