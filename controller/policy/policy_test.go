package policy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose/lint"
	"github.com/berth-gitops/berth/compose/load"
)

// stackDir writes a stack folder named shop with a compose file.
func stackDir(t *testing.T, composeYAML string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shop")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(composeYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// check loads the stack with compose-go and holds it to the settings.
func check(t *testing.T, s Settings, dir string, refused ...string) []lint.Finding {
	t.Helper()
	p, target := loadProject(t, dir)
	target.Refused = refused
	return s.Check(p, target)
}

// loadProject loads a stack folder as the controller does, and its sources. The
// loader itself refuses a relative path that leaves the stack folder unless
// it leads into hostPaths: a test grants it there to show that the policy
// refuses it on its own too.
func loadProject(t *testing.T, dir string, hostPaths ...string) (*types.Project, Target) {
	t.Helper()
	p, err := load.Load(context.Background(), load.LoadOptions{Dir: dir, HostPaths: hostPaths})
	if err != nil {
		t.Fatal(err)
	}
	src, err := lint.ReadSources(dir, "", "stacks/shop")
	if err != nil {
		t.Fatal(err)
	}
	return p, Target{Stack: "shop", Dirs: []string{dir}, Sources: src}
}

func withRule(fs []lint.Finding, rule string) []lint.Finding {
	var out []lint.Finding
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func dump(fs []lint.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

const (
	b = ProfileBaseline
	r = ProfileRestricted
)

// TestPolicyRules runs every rule in every profile: refused where the
// profile lists the case, allowed elsewhere (privileged allows all).
func TestPolicyRules(t *testing.T) {
	svc := func(extra string) string {
		return "services:\n  app:\n    image: example/app:1\n" + extra + "  db:\n    image: example/db:1\n"
	}
	vol := func(driverOpts string) string {
		return svc("    volumes: [\"data:/data\"]\n") + "volumes:\n  data:\n    driver_opts:\n" + driverOpts
	}
	cases := []struct {
		name, yaml, rule, field string
		in                      []string // the profiles that refuse it
		readOnly                bool     // require_read_only
	}{
		{"privileged", svc("    privileged: true\n"), RulePrivileged, "privileged", []string{b, r}, false},
		{"not privileged", svc("    privileged: false\n"), RulePrivileged, "", nil, false},

		{"pid host", svc("    pid: host\n"), RuleHostPID, "pid", []string{b, r}, false},
		{"pid of another container", svc("    pid: container:other-db-1\n"), RuleHostPID, "pid", []string{b, r}, false},
		{"pid of a service", svc("    pid: service:db\n"), RuleHostPID, "", nil, false},
		{"ipc host", svc("    ipc: host\n"), RuleHostIPC, "ipc", []string{b, r}, false},
		{"ipc shareable", svc("    ipc: shareable\n"), RuleHostIPC, "", nil, false},
		{"uts host", svc("    uts: host\n"), RuleHostUTS, "uts", []string{b, r}, false},
		{"userns host", svc("    userns_mode: host\n"), RuleHostUserNS, "userns_mode", []string{b, r}, false},
		{"network host", svc("    network_mode: host\n"), RuleHostNetwork, "network_mode", []string{b, r}, false},
		{"network of another stack's container", svc("    network_mode: container:shop-admin-db-1\n"), RuleHostNetwork, "network_mode", []string{b, r}, false},
		// A name cannot tell the stack's container from another stack's:
		// a decoy service named like the other stack's container would
		// pass. A service of the stack is joined with service:NAME.
		{"network of a container named like the stack's", svc("    network_mode: container:shop-db-1\n"), RuleHostNetwork, "network_mode", []string{b, r}, false},
		{"network of a service of the stack", svc("    network_mode: service:db\n"), RuleHostNetwork, "", nil, false},
		{"external volume", svc("    volumes: [\"data:/data\"]\n") + "volumes:\n  data: {external: true, name: monitoring_rootfs}\n", RuleSharedVolume, "volumes[0].source", []string{b, r}, false},
		{"volume named outside the project", svc("    volumes: [\"data:/data\"]\n") + "volumes:\n  data: {name: monitoring_rootfs}\n", RuleSharedVolume, "volumes[0].source", []string{b, r}, false},
		{"volume named inside the project", svc("    volumes: [\"data:/data\"]\n") + "volumes:\n  data: {name: shop_data}\n", RuleSharedVolume, "", nil, false},
		{"network of a service", svc("    network_mode: service:db\n"), RuleHostNetwork, "", nil, false},
		{"network none", svc("    network_mode: none\n"), RuleHostNetwork, "", nil, false},
		{"the engine's host network", svc("    networks: [outside]\n") + "networks:\n  outside: {external: true, name: host}\n", RuleHostNetwork, "networks.outside", []string{b, r}, false},
		{"an external network", svc("    networks: [proxy]\n") + "networks:\n  proxy: {external: true, name: traefik}\n", RuleHostNetwork, "", nil, false},
		{"volumes of another container", svc("    volumes_from: [\"container:traefik\"]\n"), RuleHostPath, "volumes_from[0]", []string{b, r}, false},
		{"volumes of a service", svc("    volumes_from: [db]\n"), RuleHostPath, "", nil, false},
		{"cgroup host", svc("    cgroup: host\n"), RuleHostCgroup, "cgroup", []string{b, r}, false},

		{"cap ALL", svc("    cap_add: [ALL]\n"), RuleCapabilities, "cap_add[0]", []string{b, r}, false},
		{"cap SYS_ADMIN", svc("    cap_add: [NET_BIND_SERVICE, SYS_ADMIN]\n"), RuleCapabilities, "cap_add[1]", []string{b, r}, false},
		{"cap_net_admin lower case", svc("    cap_add: [cap_net_admin]\n"), RuleCapabilities, "cap_add[0]", []string{b, r}, false},
		{"cap CHOWN", svc("    cap_add: [CHOWN]\n"), RuleCapabilities, "cap_add[0]", []string{r}, false},
		{"cap NET_BIND_SERVICE", svc("    cap_add: [NET_BIND_SERVICE]\n"), RuleCapabilities, "", nil, false},
		{"cap_drop ALL", svc("    cap_drop: [ALL]\n"), RuleCapabilities, "", nil, false},

		{"device", svc("    devices: [\"/dev/sda:/dev/sda\"]\n"), RuleDevices, "devices[0]", []string{b, r}, false},
		{"gpus", svc("    gpus: all\n"), RuleDevices, "gpus[0]", []string{b, r}, false},
		{"reserved devices", svc("    deploy:\n      resources:\n        reservations:\n          devices:\n            - {driver: cdi, capabilities: [disk], device_ids: [\"vendor.com/disk=all\"]}\n"), RuleDevices, "deploy.resources.reservations.devices[0]", []string{b, r}, false},
		{"device cgroup rule", svc("    device_cgroup_rules: [\"b 8:* rmw\"]\n"), RuleDevices, "device_cgroup_rules[0]", []string{b, r}, false},

		{"seccomp unconfined", svc("    security_opt: [\"seccomp:unconfined\"]\n"), RuleUnconfined, "security_opt[0]", []string{b, r}, false},
		{"apparmor unconfined", svc("    security_opt: [\"no-new-privileges:true\", \"apparmor=unconfined\"]\n"), RuleUnconfined, "security_opt[1]", []string{b, r}, false},
		{"seccomp profile from the stack", svc("    security_opt: [\"seccomp=allow.json\"]\n"), RuleUnconfined, "security_opt[0]", []string{b, r}, false},
		{"seccomp builtin", svc("    security_opt: [\"seccomp=builtin\"]\n"), RuleUnconfined, "", nil, false},
		{"selinux disabled", svc("    security_opt: [\"label:disable\"]\n"), RuleUnconfined, "security_opt[0]", []string{b, r}, false},
		{"selinux spc_t", svc("    security_opt: [\"label=type:spc_t\"]\n"), RuleUnconfined, "security_opt[0]", []string{b, r}, false},
		{"selinux level", svc("    security_opt: [\"label=level:s0:c100,c200\"]\n"), RuleUnconfined, "", nil, false},
		{"systempaths unconfined", svc("    security_opt: [\"systempaths=unconfined\"]\n"), RuleUnconfined, "security_opt[0]", []string{b, r}, false},

		{"unsafe sysctl", svc("    sysctls: {net.ipv4.ip_forward: \"1\"}\n"), RuleSysctls, "sysctls.net.ipv4.ip_forward", []string{b, r}, false},
		{"safe sysctl", svc("    sysctls: [\"net.ipv4.tcp_syncookies=1\"]\n"), RuleSysctls, "", nil, false},

		{"docker socket", svc("    volumes: [\"/var/run/docker.sock:/var/run/docker.sock:ro\"]\n"), RuleEngineSocket, "volumes[0].source", []string{b, r}, false},
		{"containerd socket", svc("    volumes: [\"/run/containerd/containerd.sock:/c.sock\"]\n"), RuleEngineSocket, "volumes[0].source", []string{b, r}, false},
		{"a socket under /run", svc("    volumes: [\"/run/podman/podman.sock:/p.sock\"]\n"), RuleEngineSocket, "volumes[0].source", []string{b, r}, false},
		{"socket folder", svc("    volumes: [\"/var/run:/host/run\"]\n"), RuleEngineSocket, "volumes[0].source", []string{b, r}, false},
		{"docker.sock long syntax", svc("    volumes:\n      - type: bind\n        source: /srv/docker.sock\n        target: /s\n"), RuleEngineSocket, "volumes[0].source", []string{b, r}, false},
		{"proc of init", svc("    volumes: [\"/proc/1/root:/host\"]\n"), RuleHostSystemMount, "volumes[0].source", []string{b, r}, false},
		{"engine state", svc("    volumes: [\"./data:/data\", \"/var/lib/docker:/d:ro\"]\n"), RuleHostSystemMount, "volumes[1].source", []string{b, r}, false},
		{"containerd state", svc("    volumes: [\"/var/lib/containerd:/d\"]\n"), RuleHostSystemMount, "volumes[0].source", []string{b, r}, false},
		{"a folder holding the engine state", svc("    volumes: [\"/var/lib:/d:ro\"]\n"), RuleHostSystemMount, "volumes[0].source", []string{b, r}, false},
		{"host root", svc("    volumes: [\"/:/host:ro\"]\n"), RuleHostSystemMount, "volumes[0].source", []string{b, r}, false},
		{"etc", svc("    volumes: [\"/etc/ssl/private:/certs:ro\"]\n"), RuleHostSystemMount, "volumes[0].source", []string{b, r}, false},
		{"root home long syntax", svc("    volumes:\n      - type: bind\n        source: /root\n        target: /r\n        read_only: true\n"), RuleHostSystemMount, "volumes[0].source", []string{b, r}, false},
		{"sys", svc("    volumes: [\"/sys:/sys\"]\n"), RuleHostSystemMount, "volumes[0].source", []string{b, r}, false},
		{"boot", svc("    volumes: [\"/boot:/boot\"]\n"), RuleHostSystemMount, "volumes[0].source", []string{b, r}, false},
		{"dev", svc("    volumes: [\"/dev:/dev\"]\n"), RuleHostSystemMount, "volumes[0].source", []string{b, r}, false},
		{"localtime read-only", svc("    volumes: [\"/etc/localtime:/etc/localtime:ro\", \"/etc/timezone:/etc/timezone:ro\"]\n"), RuleHostSystemMount, "", nil, false},
		{"localtime read-write", svc("    volumes: [\"/etc/localtime:/etc/localtime\"]\n"), RuleHostSystemMount, "volumes[0].source", []string{b, r}, false},
		{"localtime read-only is no host path", svc("    volumes: [\"/etc/localtime:/etc/localtime:ro\"]\n"), RuleHostPath, "", nil, false},
		{"a host folder", svc("    volumes: [\"/home/alice:/home\"]\n"), RuleHostPath, "volumes[0].source", []string{b, r}, false},
		{"above the stack folder", svc("    volumes: [\"..:/up\"]\n"), RuleHostPath, "volumes[0].source", []string{b, r}, false},
		{"the stack folder", svc("    volumes: [\"./conf:/conf:ro\", \".:/stack\"]\n"), RuleHostPath, "", nil, false},
		{"a named volume", svc("    volumes: [\"data:/data\"]\n") + "volumes:\n  data: {}\n", RuleHostPath, "", nil, false},
		{"volume binding a host folder", vol("      type: none\n      o: bind\n      device: /home/alice\n"), RuleHostPath, "volumes[0].source", []string{b, r}, false},
		{"volume binding the engine state", vol("      type: none\n      o: bind\n      device: /var/lib/docker\n"), RuleHostSystemMount, "volumes[0].source", []string{b, r}, false},
		{"volume on a disk", vol("      type: ext4\n      device: /dev/sdb1\n"), RuleHostSystemMount, "volumes[0].source", []string{b, r}, false},
		{"volume binding a relative device", vol("      type: none\n      o: bind\n      device: etc\n"), RuleHostPath, "volumes[0].source", []string{b, r}, false},
		{"volume on a relative disk", vol("      type: ext4\n      device: dev/sdb1\n"), RuleHostPath, "volumes[0].source", []string{b, r}, false},
		{"nfs volume", vol("      type: nfs\n      o: addr=10.0.0.1\n      device: \":/export\"\n"), RuleHostPath, "", nil, false},
		{"tmpfs volume", vol("      type: tmpfs\n      device: tmpfs\n"), RuleHostPath, "", nil, false},

		{"no user", svc(""), RuleRunAsRoot, "user", []string{r}, false},
		{"user root", svc("    user: root\n"), RuleRunAsRoot, "user", []string{r}, false},
		{"user 0:0", svc("    user: \"0:0\"\n"), RuleRunAsRoot, "user", []string{r}, false},
		{"user 1000", svc("    user: \"1000:0\"\n") + "    user: \"1000\"\n", RuleRunAsRoot, "", nil, false},
		{"no no-new-privileges", svc(""), RulePrivilegeEscalation, "security_opt", []string{r}, false},
		{"no-new-privileges false", svc("    security_opt: [\"no-new-privileges:false\"]\n"), RulePrivilegeEscalation, "security_opt", []string{r}, false},
		{"no-new-privileges", svc("    security_opt: [\"no-new-privileges:true\"]\n") + "    security_opt: [\"no-new-privileges=true\"]\n", RulePrivilegeEscalation, "", nil, false},
		{"writable root fs", svc(""), RuleReadOnlyRootfs, "read_only", []string{r}, true},
		{"writable root fs allowed", svc(""), RuleReadOnlyRootfs, "", nil, false},
		{"read-only root fs", svc("    read_only: true\n") + "    read_only: true\n", RuleReadOnlyRootfs, "", nil, true},
	}
	for _, tc := range cases {
		dir := stackDir(t, tc.yaml)
		p, target := loadProject(t, dir, filepath.Dir(dir))
		for _, profile := range profiles {
			t.Run(tc.name+"/"+profile, func(t *testing.T) {
				fs := Settings{Profile: profile, RequireReadOnly: tc.readOnly}.Check(p, target)
				var got []lint.Finding
				for _, f := range withRule(fs, tc.rule) {
					if f.Service == "app" {
						got = append(got, f)
					}
				}
				if !slices.Contains(tc.in, profile) {
					if len(got) > 0 {
						t.Fatalf("want no %s refusal, got:\n%s", tc.rule, dump(got))
					}
					return
				}
				if len(got) != 1 {
					t.Fatalf("want one %s refusal, got:\n%s", tc.rule, dump(fs))
				}
				f := got[0]
				if f.Field != tc.field || f.Service != "app" || f.Stack != "shop" || f.Severity != lint.SeverityError ||
					f.File != "stacks/shop/compose.yaml" || f.Line == 0 || !strings.HasPrefix(f.Message, `service "app": `+tc.field+": ") {
					t.Errorf("incomplete finding: %+v", f)
				}
			})
		}
	}
}

// TestPolicyRulesAreDocumented: every rule has a summary and a reason, and
// the operator's page names it.
func TestPolicyRulesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "host-policy.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] || r.Summary == "" || r.Why == "" || r.Severity != lint.SeverityError {
			t.Errorf("rule %+v: duplicate or incomplete", r)
		}
		seen[r.ID] = true
		if !strings.Contains(string(doc), "| `"+r.ID+"` |") {
			t.Errorf("docs/host-policy.md does not list rule %s", r.ID)
		}
	}
	for _, lr := range lint.Rules() {
		if seen[lr.ID] {
			t.Errorf("rule %s has two owners: lint and the host policy", lr.ID)
		}
	}
}
