package policy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose/lint"
)

// checker collects one stack's refusals.
type checker struct {
	p       *types.Project
	t       Target
	set     Settings
	profile string
	grants  []HostPath
	out     []lint.Finding
}

// add records a refusal of a service's field.
func (c *checker) add(rule, service, field, format string, args ...any) {
	file, line := c.t.Sources.Locate(service, field)
	c.addAt(file, line, rule, service, field, format, args...)
}

func (c *checker) addAt(file string, line int, rule, service, field, format string, args ...any) {
	c.out = append(c.out, lint.Finding{
		Rule: rule, Severity: lint.SeverityError, Stack: c.t.Stack, Service: service, Field: field,
		File: file, Line: line,
		Message: fmt.Sprintf("service %q: %s: %s (host policy %s)", service, field, fmt.Sprintf(format, args...), c.profile),
	})
}

// hidden stands for a value that may come from the environment.
const hidden = "(a value built from variables, not shown)"

// show returns a value of services.<service>.<key> for a message when the
// compose files write it literally; one built from variables may hold a
// host secret (an env template or a sops file feeds interpolation), and
// refusals reach status, notifications and commit statuses.
func (c *checker) show(service, key, value string) string {
	if c.t.Sources.Literal(service, key) {
		return value
	}
	return hidden
}

func (c *checker) restricted() bool { return c.profile == ProfileRestricted }

// service runs every rule of the profile on one service.
func (c *checker) service(name string, s types.ServiceConfig) {
	if s.Privileged {
		c.add(RulePrivileged, name, "privileged", "runs privileged, as root on the host")
	}
	c.namespaces(name, s)
	c.capabilities(name, s.CapAdd)
	for i, d := range s.Devices {
		c.add(RuleDevices, name, fmt.Sprintf("devices[%d]", i), "maps the host's device %s", c.show(name, "devices", d.Source))
	}
	for i := range s.Gpus {
		c.add(RuleDevices, name, fmt.Sprintf("gpus[%d]", i), "asks the engine for the host's GPUs")
	}
	if d := s.Deploy; d != nil && d.Resources.Reservations != nil {
		for i := range d.Resources.Reservations.Devices {
			c.add(RuleDevices, name, fmt.Sprintf("deploy.resources.reservations.devices[%d]", i), "asks the engine for host devices")
		}
	}
	for i := range s.DeviceCgroupRules {
		c.add(RuleDevices, name, fmt.Sprintf("device_cgroup_rules[%d]", i), "opens host devices through the device cgroup")
	}
	nnp := c.securityOpts(name, s.SecurityOpt)
	c.sysctls(name, s.Sysctls)
	c.mounts(name, s)
	if !c.restricted() {
		return
	}
	if !nnp {
		c.add(RulePrivilegeEscalation, name, "security_opt", "no-new-privileges:true is not set")
	}
	if root, why := runsAsRoot(s.User); root {
		c.add(RuleRunAsRoot, name, "user", "%s; set user: to a non-zero uid", why)
	}
	if c.set.RequireReadOnly && !s.ReadOnly {
		c.add(RuleReadOnlyRootfs, name, "read_only", "the host requires read_only: true")
	}
}

// namespaces refuses sharing the host's namespaces, or joining a
// container that is not the stack's.
func (c *checker) namespaces(name string, s types.ServiceConfig) {
	for _, ns := range []struct{ rule, field, value string }{
		{RuleHostPID, "pid", s.Pid},
		{RuleHostIPC, "ipc", s.Ipc},
		{RuleHostUTS, "uts", s.Uts},
		{RuleHostUserNS, "userns_mode", s.UserNSMode},
		{RuleHostNetwork, "network_mode", s.NetworkMode},
		{RuleHostCgroup, "cgroup", s.Cgroup},
	} {
		switch ref, joins := strings.CutPrefix(ns.value, types.ContainerPrefix); {
		case ns.value == "host":
			c.add(ns.rule, name, ns.field, "shares the host's namespace")
		case joins:
			c.add(ns.rule, name, ns.field, "joins container %s by name, which may be another stack's; join a service of this stack with service:NAME", c.show(name, ns.field, ref))
		}
	}
	// The engine's network named host is the host's network namespace,
	// whichever way a service joins it.
	for _, key := range slices.Sorted(maps.Keys(s.Networks)) {
		if n, ok := c.p.Networks[key]; ok && n.Name == "host" {
			c.add(RuleHostNetwork, name, "networks."+key, "joins the engine's host network, the host's namespace")
		}
	}
	for i, from := range s.VolumesFrom {
		if ref, ok := strings.CutPrefix(from, types.ContainerPrefix); ok {
			c.add(RuleHostPath, name, fmt.Sprintf("volumes_from[%d]", i), "mounts the volumes of container %s by name, which may be another stack's; name a service of this stack instead", c.show(name, "volumes_from", ref))
		}
	}
}

// Capabilities a profile lets a service add (Pod Security Standards).
var (
	baselineCaps   = []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
	restrictedCaps = []string{"NET_BIND_SERVICE"}
)

func (c *checker) capabilities(name string, add []string) {
	allowed := baselineCaps
	if c.restricted() {
		allowed = restrictedCaps
	}
	for i, cp := range add {
		norm := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(cp)), "CAP_")
		if !slices.Contains(allowed, norm) {
			c.add(RuleCapabilities, name, fmt.Sprintf("cap_add[%d]", i), "adds capability %s, which the %s profile does not allow", c.show(name, "cap_add", norm), c.profile)
		}
	}
}

// SELinux types a container may run as (Pod Security Standards).
var selinuxTypes = []string{"container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

// securityOpts refuses unconfined profiles and reports whether
// no-new-privileges is on.
func (c *checker) securityOpts(name string, opts []string) (nnp bool) {
	for i, opt := range opts {
		key, value, ok := strings.Cut(opt, "=")
		if !ok {
			key, value, _ = strings.Cut(opt, ":")
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		field := fmt.Sprintf("security_opt[%d]", i)
		switch {
		case key == "no-new-privileges":
			nnp = value == "" || value == "true"
		case (key == "seccomp" || key == "apparmor") && value == "unconfined":
			c.add(RuleUnconfined, name, field, "runs without the %s profile", key)
		case key == "seccomp" && value != "builtin":
			// The profile comes with the commit, and a profile may allow
			// every call ("defaultAction": "SCMP_ACT_ALLOW").
			c.add(RuleUnconfined, name, field, "replaces the engine's seccomp profile with one from the stack's files")
		case key == "systempaths" && value == "unconfined":
			c.add(RuleUnconfined, name, field, "unmasks the kernel's /proc and /sys paths")
		case key == "label" && value == "disable":
			c.add(RuleUnconfined, name, field, "turns SELinux labelling off")
		case key == "label" && !selinuxLabelOK(value):
			c.add(RuleUnconfined, name, field, "sets a custom SELinux user, role or type")
		}
	}
	return nnp
}

// selinuxLabelOK allows a level and the container types; a user or a
// role (and any other type) is refused.
func selinuxLabelOK(value string) bool {
	kind, v, _ := strings.Cut(value, ":")
	switch kind {
	case "level", "filetype", "nested":
		return true
	case "type":
		return slices.Contains(selinuxTypes, v)
	}
	return false
}

// safeSysctls are namespaced and isolated from the host and other
// containers (Pod Security Standards).
var safeSysctls = []string{
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
}

func (c *checker) sysctls(name string, m types.Mapping) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if slices.Contains(safeSysctls, strings.ReplaceAll(k, "/", ".")) {
			continue
		}
		if !c.t.Sources.Literal(name, "sysctls") {
			c.add(RuleSysctls, name, "sysctls", "sets %s, which is not in the safe set", hidden)
			continue
		}
		c.add(RuleSysctls, name, "sysctls."+k, "sets %s, which is not in the safe set", k)
	}
}

// runsAsRoot judges user: as written; without one the image's user runs,
// which berth cannot see and is root in most images.
func runsAsRoot(user string) (bool, string) {
	u, _, _ := strings.Cut(strings.TrimSpace(user), ":")
	switch {
	case u == "":
		return true, "no user: is set, so the image's user runs (root in most images)"
	case u == "root":
		return true, "runs as root"
	}
	if n, err := strconv.ParseUint(u, 10, 32); err == nil && n == 0 {
		return true, "runs as uid 0"
	}
	return false, ""
}
