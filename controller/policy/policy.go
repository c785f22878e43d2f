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
)

// rules are the host policy's rules; each refuses (severity error).
var rules = []lint.Rule{
	{ID: RulePrivileged, Summary: "privileged: true", Why: "a privileged container is root on the host"},
	{ID: RuleHostPID, Summary: "pid: host, or pid: container:X outside the stack", Why: "the host's processes can be seen, traced and signalled"},
	{ID: RuleHostIPC, Summary: "ipc: host, or ipc: container:X outside the stack", Why: "the host's shared memory and message queues can be read and written"},
	{ID: RuleHostUTS, Summary: "uts: host", Why: "the container can change the host's name"},
	{ID: RuleHostUserNS, Summary: "userns_mode: host", Why: "it turns the engine's user namespace remapping off: root in the container is root on the host"},
	{ID: RuleHostNetwork, Summary: "network_mode: host, network_mode: container:X outside the stack, or the engine's network named host", Why: "the container reaches every port bound to localhost on the host, and other stacks' networks"},
	{ID: RuleHostCgroup, Summary: "cgroup: host", Why: "the container sees and may change the host's cgroup tree"},
	{ID: RuleCapabilities, Summary: "cap_add beyond the profile's list (ALL included)", Why: "baseline allows AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID SYS_CHROOT, restricted only NET_BIND_SERVICE; others (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, ...) lead out of the container"},
	{ID: RuleDevices, Summary: "devices or device_cgroup_rules", Why: "a host device (a disk, /dev/mem) is the host's data and memory"},
	{ID: RuleUnconfined, Summary: "seccomp or apparmor unconfined, SELinux label:disable or a custom label, systempaths=unconfined", Why: "the profiles are what stop a root process from using the kernel's dangerous calls and files"},
	{ID: RuleSysctls, Summary: "a sysctl outside the safe set", Why: "only kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, ip_local_reserved_ports, ip_unprivileged_port_start, tcp_syncookies, ping_group_range and the tcp_keepalive_*/tcp_fin_timeout settings are isolated from the host and other containers"},
	{ID: RuleHostPath, Summary: "a bind mount (or a local volume that binds a device) outside the stack folder and the host_paths the host grants the stack; volumes_from a container outside the stack", Why: "a host folder is the host's data; the host decides which ones a stack may use"},
	{ID: RuleEngineSocket, Summary: "the engine's socket (docker.sock, any *.sock under /run or /var/run, /run/containerd) bind-mounted", Why: "whoever reaches the socket controls every container and the host", Aliases: []string{"docker-socket"}},
	{ID: RuleHostSystemMount, Summary: "/, /etc, /proc, /sys, /root, /boot, /dev, /var/lib/docker, /var/lib/containerd or berth's own data, secrets and cache dirs bind-mounted, even when granted", Why: "the container could read or change the host's system, the engine's state or berth's secrets; read-only /etc/localtime and /etc/timezone are allowed"},
	{ID: RuleRunAsRoot, Summary: "restricted: no user:, or user root or 0", Why: "root in a container is one kernel bug away from root on the host"},
	{ID: RulePrivilegeEscalation, Summary: "restricted: security_opt without no-new-privileges:true", Why: "without it a setuid binary in the image gives a process more rights than it started with"},
	{ID: RuleReadOnlyRootfs, Summary: "restricted with require_read_only: read_only: true missing", Why: "a writable image lets an intruder change the service's own programs"},
}

func init() {
	for i := range rules {
		rules[i].Severity = lint.SeverityError
	}
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
	// Dirs are the stack's own folders (the exported stack folder, its
	// render dir): bind mounts inside them are the stack's files.
	Dirs []string
	// Refused are berth's own folders (data, secrets, cache): no stack may
	// mount them or anything that holds them.
	Refused []string
	// Sources point findings at a file and line; the zero value names
	// none.
	Sources lint.Sources
}

// Check holds a loaded project to the profile the host sets for the
// stack and returns the refusals, the host's exceptions marked, sorted.
// Exceptions are applied by Except, so the caller can mark the checklist's
// findings in the same pass.
func (s Settings) Check(p *types.Project, t Target) []lint.Finding {
	c := &checker{p: p, t: t, set: s, profile: s.ProfileFor(t.Stack)}
	if c.profile == ProfilePrivileged {
		return nil
	}
	c.grants = s.grantsFor(t.Stack)
	c.stackContainers = containerNames(p)
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		c.service(name, p.Services[name])
	}
	return lint.Sort(c.out)
}
