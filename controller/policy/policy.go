// Package policy is the host policy: what a commit may ask of the host.
// The host sets it (berth.yaml's policy section and flags), never the
// repository, so the worst commit a contributor can push is bounded by the
// host's operator. Its profiles follow Kubernetes' Pod Security Standards:
// baseline (the default) refuses the known ways out of a container (host
// namespaces, privileged, added capabilities, devices, unconfined
// profiles, host paths), restricted also wants a non-root user and no
// privilege escalation, and privileged allows everything.
//
// A refusal is a lint.Finding of severity error, so `berth lint` and the
// controller print, count and except policy findings and checklist
// findings the same way.
package policy

import (
	"maps"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose/lint"
)

// The profiles, from the most to the least permissive.
const (
	ProfilePrivileged = "privileged"
	ProfileBaseline   = "baseline"
	ProfileRestricted = "restricted"
)

// DefaultProfile applies when the host names none.
const DefaultProfile = ProfileBaseline

// The rule ids. They are stable: the host's exceptions name them.
const (
	RulePrivileged          = "privileged"
	RuleHostPID             = "host-pid"
	RuleHostIPC             = "host-ipc"
	RuleHostUTS             = "host-uts"
	RuleHostUserNS          = "host-userns"
	RuleHostNetwork         = "host-network"
	RuleHostCgroup          = "host-cgroup"
	RuleCapabilities        = "capabilities"
	RuleDevices             = "devices"
	RuleUnconfined          = "unconfined-profile"
	RuleSysctls             = "sysctls"
	RuleHostPath            = "host-path"
	RuleEngineSocket        = "engine-socket"
	RuleHostSystemMount     = "host-system-mount"
	RuleRunAsRoot           = "run-as-root"
	RulePrivilegeEscalation = "privilege-escalation"
	RuleReadOnlyRootfs      = "read-only-rootfs"
	RuleSharedVolume        = "shared-volume"
)

// rules are the host policy's rules; each refuses (severity error).
var rules = []lint.Rule{
	rule(RulePrivileged, "privileged: true", "a privileged container is root on the host"),
	rule(RuleHostPID, "pid: host, or pid: container:X (a container joined by name)", "the host's processes can be seen, traced and signalled"),
	rule(RuleHostIPC, "ipc: host, or ipc: container:X (a container joined by name)", "the host's shared memory and message queues can be read and written"),
	rule(RuleHostUTS, "uts: host", "the container can change the host's name"),
	rule(RuleHostUserNS, "userns_mode: host", "it turns the engine's user namespace remapping off: root in the container is root on the host"),
	rule(RuleHostNetwork, "network_mode: host, network_mode: container:X (a container joined by name), or the engine's network named host", "the container reaches every port bound to localhost on the host, and other stacks' networks"),
	rule(RuleHostCgroup, "cgroup: host", "the container sees and may change the host's cgroup tree"),
	rule(RuleCapabilities, "cap_add beyond the profile's list (ALL included)", "baseline allows AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID SYS_CHROOT, restricted only NET_BIND_SERVICE; others (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, ...) lead out of the container"),
	rule(RuleDevices, "devices, device_cgroup_rules, gpus or reserved devices", "a host device (a disk, /dev/mem) is the host's data and memory"),
	rule(RuleUnconfined, "seccomp or apparmor unconfined, a seccomp profile from the stack, SELinux label:disable or a custom label, systempaths=unconfined", "the profiles are what stop a root process from using the kernel's dangerous calls and files"),
	rule(RuleSysctls, "a sysctl outside the safe set", "only kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, ip_local_reserved_ports, ip_unprivileged_port_start, tcp_syncookies, ping_group_range and the tcp_keepalive_*/tcp_fin_timeout settings are isolated from the host and other containers"),
	rule(RuleHostPath, "a bind mount (or a local volume that binds a device) outside the stack folder and the host_paths the host grants the stack; volumes_from container:X", "a host folder is the host's data; the host decides which ones a stack may use"),
	rule(RuleSharedVolume, "a named volume that is not the stack's own: external: true, or a name: that does not start with the project's name", "an existing volume may be another stack's data, or a local volume someone made to bind a host folder; berth never checks what it holds"),
	rule(RuleEngineSocket, "the engine's socket (docker.sock, any *.sock under /run or /var/run, /run/containerd) bind-mounted", "whoever reaches the socket controls every container and the host", "docker-socket"),
	rule(RuleHostSystemMount, "/, /etc, /proc, /sys, /root, /boot, /dev, /var/lib/docker, /var/lib/containerd or berth's own data and secrets dirs and credential files bind-mounted, even when granted", "the container could read or change the host's system, the engine's state or berth's secrets; read-only /etc/localtime and /etc/timezone are allowed"),
	rule(RuleRunAsRoot, "restricted: no user:, or user root or 0", "root in a container is one kernel bug away from root on the host"),
	rule(RulePrivilegeEscalation, "restricted: security_opt without no-new-privileges:true", "without it a setuid binary in the image gives a process more rights than it started with"),
	rule(RuleReadOnlyRootfs, "restricted with require_read_only: read_only: true missing", "a writable image lets an intruder change the service's own programs"),
}

// rule makes a rule: each refuses, so each is an error.
func rule(id, summary, why string, aliases ...string) lint.Rule {
	return lint.Rule{ID: id, Severity: lint.SeverityError, Summary: summary, Why: why, Aliases: aliases}
}

// Rules lists the host policy's rules, in a stable order.
func Rules() []lint.Rule { return slices.Clone(rules) }

// canonical maps a rule id or an alias to the rule's id.
func canonical(id string) (string, bool) {
	for _, r := range rules {
		if r.ID == id || slices.Contains(r.Aliases, id) {
			return r.ID, true
		}
	}
	return "", false
}

// Target is what the policy needs to know about a stack besides its
// project: where it lives on the host and which host folders are berth's.
type Target struct {
	// Stack is the stack's name, as exceptions and grants match it.
	Stack string
	// Dirs are the stack's own folders (the exported stack folder): bind
	// mounts inside them are the stack's files.
	Dirs []string
	// Refused are berth's own folders and files (data, secrets,
	// credentials): no stack may mount them or anything that holds them.
	Refused []string
	// Sources point findings at a file and line; the zero value names
	// none.
	Sources lint.Sources
}

// Check holds a loaded project to the profile the host sets for the
// stack and returns the refusals, sorted. The host's exceptions are left
// to Except, which marks the lint checklist's findings the same way.
func (s Settings) Check(p *types.Project, t Target) []lint.Finding {
	c := &checker{p: p, t: t, set: s, profile: s.ProfileFor(t.Stack)}
	if c.profile == ProfilePrivileged {
		return nil
	}
	c.grants = s.grantsFor(t.Stack)
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		c.service(name, p.Services[name])
	}
	return lint.Sort(c.out)
}
