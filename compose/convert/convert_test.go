package convert_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/convert"
	"github.com/berth-gitops/berth/compose/load"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
)

// loadSpecProject writes compose.yaml (and any extra files) to a temporary
// stack folder and loads it as project "demo".
func loadSpecProject(t *testing.T, compose string, files map[string]string) (*types.Project, error) {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"compose.yaml": compose}
	maps.Copy(all, files)
	for name, content := range all {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return load.Load(context.Background(), load.LoadOptions{Dir: dir, ProjectName: "demo"})
}

func mustLoadSpecProject(t *testing.T, compose string, files map[string]string) *types.Project {
	t.Helper()
	p, err := loadSpecProject(t, compose, files)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p
}

// specOf loads compose and converts container 1 of service web.
func specOf(t *testing.T, compose string, files map[string]string) (convert.ContainerSpec, *types.Project) {
	t.Helper()
	p := mustLoadSpecProject(t, compose, files)
	spec, err := convert.BuildContainerSpec(p, p.Services["web"], convert.SpecInput{Number: 1, ContainerFor: fakeContainers})
	if err != nil {
		t.Fatalf("BuildContainerSpec: %v", err)
	}
	return spec, p
}

func fakeContainers(service string) (string, error) {
	if service == "missing" {
		return "", errors.New("no container")
	}
	return "id-of-" + service, nil
}

func equal[T any](t *testing.T, field string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("%s:\n got %s\nwant %s", field, g, w)
	}
}

func ptr[T any](v T) *T { return &v }

func port(s string) network.Port { return network.MustParsePort(s) }

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestBuildContainerSpecConfig(t *testing.T) {
	cases := []struct {
		name    string
		compose string
		files   map[string]string
		check   func(t *testing.T, s convert.ContainerSpec, p *types.Project)
	}{{
		name: "image, command and entrypoint",
		compose: `
services:
  web:
    image: nginx:1.27
    command: nginx -g "daemon off;"
    entrypoint: ["/docker-entrypoint.sh"]
`,
		check: func(t *testing.T, s convert.ContainerSpec, _ *types.Project) {
			equal(t, "Name", s.Name, "demo-web-1")
			equal(t, "Image", s.Config.Image, "nginx:1.27")
			equal(t, "Cmd", s.Config.Cmd, []string{"nginx", "-g", "daemon off;"})
			equal(t, "Entrypoint", s.Config.Entrypoint, []string{"/docker-entrypoint.sh"})
			equal(t, "AttachStdout", s.Config.AttachStdout, true)
		},
	}, {
		name: "an empty command clears the image's, an absent one keeps it",
		compose: `
services:
  web:
    image: busybox
    command: []
`,
		check: func(t *testing.T, s convert.ContainerSpec, _ *types.Project) {
			equal(t, "Cmd", s.Config.Cmd, []string{})
			equal(t, "Entrypoint", s.Config.Entrypoint, nil)
		},
	}, {
		name: "environment sorted, unset variables left out, env_file merged",
		compose: `
services:
  web:
    image: busybox
    env_file: [app.env]
    environment:
      ZED: last
      ALPHA: "1"
      UNSET:
      EMPTY: ""
`,
		files: map[string]string{"app.env": "FROM_FILE=yes\nALPHA=from-file\n"},
		check: func(t *testing.T, s convert.ContainerSpec, _ *types.Project) {
			equal(t, "Env", s.Config.Env, []string{"ALPHA=1", "EMPTY=", "FROM_FILE=yes", "ZED=last"})
		},
	}, {
		name: "container_name",
		compose: `
services:
  web:
    image: busybox
    container_name: the-web
`,
		check: func(t *testing.T, s convert.ContainerSpec, _ *types.Project) {
			equal(t, "Name", s.Name, "the-web")
			equal(t, "aliases", s.Networking.EndpointsConfig["demo_default"].Aliases, []string{"the-web", "web"})
		},
	}, {
		name: "user, working_dir, hostname, domainname, tty, stdin_open, stop signal and grace period",
		compose: `
services:
  web:
    image: busybox
    user: "1000:1000"
    working_dir: /srv
    hostname: web1
    domainname: example.test
    tty: true
    stdin_open: true
    stop_signal: SIGINT
    stop_grace_period: 1m30s
`,
		check: func(t *testing.T, s convert.ContainerSpec, _ *types.Project) {
			c := s.Config
			equal(t, "User", c.User, "1000:1000")
			equal(t, "WorkingDir", c.WorkingDir, "/srv")
			equal(t, "Hostname", c.Hostname, "web1")
			equal(t, "Domainname", c.Domainname, "example.test")
			equal(t, "Tty", c.Tty, true)
			equal(t, "OpenStdin", c.OpenStdin, true)
			equal(t, "StopSignal", c.StopSignal, "SIGINT")
			equal(t, "StopTimeout", c.StopTimeout, ptr(90))
		},
	}, {
		name: "healthcheck, shell form",
		compose: `
services:
  web:
    image: busybox
    healthcheck:
      test: wget -q -O- http://localhost/
      interval: 10s
      timeout: 3s
      retries: 5
      start_period: 30s
      start_interval: 2s
`,
		check: func(t *testing.T, s convert.ContainerSpec, _ *types.Project) {
			equal(t, "Healthcheck", s.Config.Healthcheck, &container.HealthConfig{
				Test:          []string{"CMD-SHELL", "wget -q -O- http://localhost/"},
				Interval:      10 * time.Second,
				Timeout:       3 * time.Second,
				StartPeriod:   30 * time.Second,
				StartInterval: 2 * time.Second,
				Retries:       5,
			})
		},
	}, {
		name: "healthcheck, exec form",
		compose: `
services:
  web:
    image: busybox
    healthcheck:
      test: ["CMD", "/bin/check", "--fast"]
`,
		check: func(t *testing.T, s convert.ContainerSpec, _ *types.Project) {
			equal(t, "Healthcheck", s.Config.Healthcheck, &container.HealthConfig{Test: []string{"CMD", "/bin/check", "--fast"}})
		},
	}, {
		name: "healthcheck NONE",
		compose: `
services:
  web:
    image: busybox
    healthcheck:
      test: ["NONE"]
`,
		check: func(t *testing.T, s convert.ContainerSpec, _ *types.Project) {
			equal(t, "Healthcheck.Test", s.Config.Healthcheck.Test, []string{"NONE"})
		},
	}, {
		name: "healthcheck disable",
		compose: `
services:
  web:
    image: busybox
    healthcheck:
      disable: true
`,
		check: func(t *testing.T, s convert.ContainerSpec, _ *types.Project) {
			equal(t, "Healthcheck.Test", s.Config.Healthcheck.Test, []string{"NONE"})
		},
	}, {
		name: "no healthcheck inherits the image's",
		compose: `
services:
  web:
    image: busybox
`,
		check: func(t *testing.T, s convert.ContainerSpec, _ *types.Project) {
			equal(t, "Healthcheck", s.Config.Healthcheck, nil)
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec, p := specOf(t, tc.compose, tc.files)
			tc.check(t, spec, p)
		})
	}
}

func TestBuildContainerSpecLabels(t *testing.T) {
	p := mustLoadSpecProject(t, `
services:
  web:
    image: busybox
    labels:
      traefik.enable: "true"
      com.docker.compose.config-hash: from-file
`, nil)
	spec, err := convert.BuildContainerSpec(p, p.Services["web"], convert.SpecInput{Number: 2, Labels: map[string]string{
		compose.LabelConfigHash:      "abc",
		compose.LabelContainerNumber: "2",
		compose.LabelBerthCommit:     "c0ffee",
	}})
	if err != nil {
		t.Fatal(err)
	}
	l := spec.Config.Labels
	equal(t, "Name", spec.Name, "demo-web-2")
	equal(t, "traefik.enable", l["traefik.enable"], "true")
	equal(t, "config-hash (input wins)", l[compose.LabelConfigHash], "abc")
	equal(t, "container-number", l[compose.LabelContainerNumber], "2")
	equal(t, "commit", l[compose.LabelBerthCommit], "c0ffee")
	equal(t, "project", l[compose.LabelProject], "demo")
	equal(t, "service", l[compose.LabelService], "web")
	equal(t, "oneoff", l[compose.LabelOneoff], "False")
	equal(t, "version", l[compose.LabelVersion], compose.ComposeVersion)
}

func TestBuildContainerSpecPorts(t *testing.T) {
	spec, _ := specOf(t, `
services:
  web:
    image: busybox
    ports:
      - "8080-8081:80-81"
      - "127.0.0.1:9000:9000/udp"
      - "3000"
      - "[::1]:5353:53/udp"
      - target: 443
        published: "8443-8444"
        host_ip: 0.0.0.0
        protocol: tcp
    expose: ["5000", "6000-6001/udp"]
`, nil)
	equal(t, "PortBindings", spec.HostConfig.PortBindings, network.PortMap{
		port("80/tcp"):   {{HostPort: "8080"}},
		port("81/tcp"):   {{HostPort: "8081"}},
		port("9000/udp"): {{HostIP: addr("127.0.0.1"), HostPort: "9000"}},
		port("3000/tcp"): {{}},
		port("53/udp"):   {{HostIP: addr("::1"), HostPort: "5353"}},
		port("443/tcp"):  {{HostIP: addr("0.0.0.0"), HostPort: "8443-8444"}},
	})
	equal(t, "ExposedPorts", spec.Config.ExposedPorts, network.PortSet{
		port("80/tcp"): {}, port("81/tcp"): {}, port("9000/udp"): {}, port("3000/tcp"): {},
		port("53/udp"): {}, port("443/tcp"): {}, port("5000/tcp"): {}, port("6000/udp"): {}, port("6001/udp"): {},
	})
}

func TestBuildContainerSpecVolumes(t *testing.T) {
	spec, p := specOf(t, `
services:
  web:
    image: busybox
    volumes:
      - data:/data
      - shared:/shared:ro
      - /anon
      - ./conf:/conf:ro
      - ./relabel:/relabel:z
      - type: bind
        source: ./strict
        target: /strict
        bind: {create_host_path: false}
      - type: bind
        source: ./prop
        target: /prop
        bind: {propagation: rslave}
      - type: tmpfs
        target: /scratch
        tmpfs: {size: 10m, mode: 01777}
      - type: volume
        source: data
        target: /nocopy
        volume: {nocopy: true}
      - type: volume
        source: data
        target: /sub
        volume: {subpath: part}
    tmpfs: ["/run:size=1m", "/cache"]
volumes:
  data:
  shared:
    external: true
    name: shared-data
`, nil)
	dir := p.WorkingDir
	equal(t, "Binds", spec.HostConfig.Binds, []string{
		"demo_data:/data:rw",
		"shared-data:/shared:ro",
		dir + "/conf:/conf:ro",
		dir + "/relabel:/relabel:rw,z",
	})
	equal(t, "Mounts", spec.HostConfig.Mounts, []mount.Mount{
		{Type: mount.TypeVolume, Target: "/anon"},
		{Type: mount.TypeBind, Source: dir + "/strict", Target: "/strict", BindOptions: &mount.BindOptions{}},
		{Type: mount.TypeBind, Source: dir + "/prop", Target: "/prop", BindOptions: &mount.BindOptions{Propagation: mount.PropagationRSlave}},
		{Type: mount.TypeTmpfs, Target: "/scratch", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 10 << 20, Mode: 0o1777}},
		{Type: mount.TypeVolume, Source: "demo_data", Target: "/nocopy", VolumeOptions: &mount.VolumeOptions{NoCopy: true}},
		{Type: mount.TypeVolume, Source: "demo_data", Target: "/sub", VolumeOptions: &mount.VolumeOptions{Subpath: "part"}},
	})
	equal(t, "Tmpfs", spec.HostConfig.Tmpfs, map[string]string{"/run": "size=1m", "/cache": ""})
}

func TestBuildContainerSpecSecretsAndConfigs(t *testing.T) {
	spec, p := specOf(t, `
services:
  web:
    image: busybox
    secrets:
      - db_password
      - source: api_key
        target: api.key
      - source: tls_key
        target: /etc/tls/key.pem
    configs:
      - nginx
      - source: nginx
        target: etc/nginx.conf
      - source: app
        target: /etc/app.yaml
    volumes:
      - ./override:/etc/app.yaml:ro
secrets:
  db_password: {file: ./secrets/db_password}
  api_key: {file: ./secrets/api_key}
  tls_key: {file: ./secrets/tls_key}
configs:
  nginx: {file: ./nginx.conf}
  app: {file: ./app.yaml}
`, nil)
	dir := p.WorkingDir
	ro := func(src, target string) mount.Mount {
		return mount.Mount{Type: mount.TypeBind, Source: filepath.Join(dir, src), Target: target, ReadOnly: true}
	}
	// The config at /etc/app.yaml is hidden by the volume with that target.
	equal(t, "Mounts", spec.HostConfig.Mounts, []mount.Mount{
		ro("secrets/db_password", "/run/secrets/db_password"),
		ro("secrets/api_key", "/run/secrets/api.key"),
		ro("secrets/tls_key", "/etc/tls/key.pem"),
		ro("nginx.conf", "/nginx"),
		ro("nginx.conf", "/etc/nginx.conf"),
	})
	equal(t, "Binds", spec.HostConfig.Binds, []string{dir + "/override:/etc/app.yaml:ro"})
}

func TestBuildContainerSpecNetworks(t *testing.T) {
	cases := []struct {
		name    string
		compose string
		check   func(t *testing.T, s convert.ContainerSpec)
	}{{
		name: "default network",
		compose: `
services:
  web:
    image: busybox
`,
		check: func(t *testing.T, s convert.ContainerSpec) {
			equal(t, "NetworkMode", s.HostConfig.NetworkMode, container.NetworkMode("demo_default"))
			equal(t, "Networking", s.Networking, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
				"demo_default": {Aliases: []string{"demo-web-1", "web"}},
			}})
			equal(t, "ExtraNetworks", s.ExtraNetworks, nil)
		},
	}, {
		name: "priority orders networks, then names; the first goes in the create call",
		compose: `
services:
  web:
    image: busybox
    mac_address: "02:42:ac:11:00:02"
    networks:
      back:
      front:
        priority: 100
        aliases: [www, site]
        ipv4_address: 172.28.0.10
        ipv6_address: "fd00::10"
        link_local_ips: ["169.254.8.8"]
        driver_opts: {foo: bar}
      admin:
      edge:
        priority: 10
        mac_address: "02:42:ac:11:00:03"
        interface_name: eth9
networks:
  front:
    name: shared-front
  back:
  admin:
  edge:
`,
		check: func(t *testing.T, s convert.ContainerSpec) {
			mac := func(m string) network.HardwareAddr {
				var hw network.HardwareAddr
				if err := hw.UnmarshalText([]byte(m)); err != nil {
					t.Fatal(err)
				}
				return hw
			}
			equal(t, "NetworkMode", s.HostConfig.NetworkMode, container.NetworkMode("shared-front"))
			equal(t, "Networking", s.Networking, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
				"shared-front": {
					Aliases: []string{"demo-web-1", "web", "www", "site"},
					IPAMConfig: &network.EndpointIPAMConfig{
						IPv4Address:  addr("172.28.0.10"),
						IPv6Address:  addr("fd00::10"),
						LinkLocalIPs: []netip.Addr{addr("169.254.8.8")},
					},
					MacAddress: mac("02:42:ac:11:00:02"),
					DriverOpts: map[string]string{"foo": "bar"},
				},
			}})
			var names []string
			for _, a := range s.ExtraNetworks {
				names = append(names, a.Network)
			}
			equal(t, "extra network order", names, []string{"demo_edge", "demo_admin", "demo_back"})
			equal(t, "edge endpoint", s.ExtraNetworks[0].Endpoint, &network.EndpointSettings{
				Aliases:    []string{"demo-web-1", "web"},
				MacAddress: mac("02:42:ac:11:00:03"),
				DriverOpts: map[string]string{convert.IfnameDriverOpt: "eth9"},
			})
		},
	}, {
		name: "network_mode host",
		compose: `
services:
  web:
    image: busybox
    network_mode: host
`,
		check: func(t *testing.T, s convert.ContainerSpec) {
			equal(t, "NetworkMode", s.HostConfig.NetworkMode, container.NetworkMode("host"))
			equal(t, "Networking", s.Networking, nil)
		},
	}, {
		name: "network_mode none",
		compose: `
services:
  web:
    image: busybox
    network_mode: none
`,
		check: func(t *testing.T, s convert.ContainerSpec) {
			equal(t, "NetworkMode", s.HostConfig.NetworkMode, container.NetworkMode("none"))
		},
	}, {
		name: "network_mode container",
		compose: `
services:
  web:
    image: busybox
    network_mode: container:abc123
`,
		check: func(t *testing.T, s convert.ContainerSpec) {
			equal(t, "NetworkMode", s.HostConfig.NetworkMode, container.NetworkMode("container:abc123"))
			equal(t, "Networking", s.Networking, nil)
		},
	}, {
		name: "network_mode, ipc, pid and volumes_from of other services resolve to their containers",
		compose: `
services:
  web:
    image: busybox
    network_mode: service:db
    ipc: service:db
    pid: container:abc123
    volumes_from: ["db:ro", "container:data1", "cache"]
  db:
    image: busybox
  cache:
    image: busybox
`,
		check: func(t *testing.T, s convert.ContainerSpec) {
			h := s.HostConfig
			equal(t, "NetworkMode", h.NetworkMode, container.NetworkMode("container:id-of-db"))
			equal(t, "IpcMode", h.IpcMode, container.IpcMode("container:id-of-db"))
			equal(t, "PidMode", h.PidMode, container.PidMode("container:abc123"))
			equal(t, "VolumesFrom", h.VolumesFrom, []string{"id-of-db:ro", "data1", "id-of-cache"})
			equal(t, "Networking", s.Networking, nil)
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec, _ := specOf(t, tc.compose, nil)
			tc.check(t, spec)
		})
	}
}

func TestBuildContainerSpecHost(t *testing.T) {
	spec, _ := specOf(t, `
services:
  web:
    image: busybox
    restart: on-failure:3
    logging:
      driver: json-file
      options: {max-size: 10m, max-file: "3"}
    extra_hosts: ["db.local:10.0.0.5", "v6.local=::1"]
    dns: [1.1.1.1, "2606:4700:4700::1111"]
    dns_search: [example.test]
    dns_opt: [use-vc]
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    privileged: true
    security_opt: [no-new-privileges:true, "label=disable", systempaths=unconfined]
    devices: ["/dev/null:/dev/mynull:rwm", "/dev/zero"]
    ulimits:
      nproc: 65535
      nofile: {soft: 1024, hard: 4096}
    sysctls: {net.core.somaxconn: "1024"}
    init: true
    read_only: true
    shm_size: 64m
    userns_mode: host
    group_add: [audio, "1001"]
    oom_score_adj: -500
    annotations: {com.example.note: hello}
    cgroup: private
    runtime: runc
    uts: host
    isolation: default
    storage_opt: {size: 1G}
`, nil)
	h := spec.HostConfig
	equal(t, "RestartPolicy", h.RestartPolicy, container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 3})
	equal(t, "LogConfig", h.LogConfig, container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "3"}})
	equal(t, "ExtraHosts", h.ExtraHosts, []string{"db.local:10.0.0.5", "v6.local:::1"})
	equal(t, "DNS", h.DNS, []netip.Addr{addr("1.1.1.1"), addr("2606:4700:4700::1111")})
	equal(t, "DNSSearch", h.DNSSearch, []string{"example.test"})
	equal(t, "DNSOptions", h.DNSOptions, []string{"use-vc"})
	equal(t, "CapAdd", h.CapAdd, []string{"NET_ADMIN"})
	equal(t, "CapDrop", h.CapDrop, []string{"ALL"})
	equal(t, "Privileged", h.Privileged, true)
	equal(t, "SecurityOpt", h.SecurityOpt, []string{"no-new-privileges:true", "label=disable"})
	equal(t, "MaskedPaths", h.MaskedPaths, []string{})
	equal(t, "ReadonlyPaths", h.ReadonlyPaths, []string{})
	equal(t, "Devices", h.Devices, []container.DeviceMapping{
		{PathOnHost: "/dev/null", PathInContainer: "/dev/mynull", CgroupPermissions: "rwm"},
		{PathOnHost: "/dev/zero", PathInContainer: "/dev/zero", CgroupPermissions: "rwm"},
	})
	equal(t, "Ulimits", h.Ulimits, []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 4096}, {Name: "nproc", Soft: 65535, Hard: 65535}})
	equal(t, "Sysctls", h.Sysctls, map[string]string{"net.core.somaxconn": "1024"})
	equal(t, "Init", h.Init, ptr(true))
	equal(t, "ReadonlyRootfs", h.ReadonlyRootfs, true)
	equal(t, "ShmSize", h.ShmSize, int64(64<<20))
	equal(t, "UsernsMode", h.UsernsMode, container.UsernsMode("host"))
	equal(t, "GroupAdd", h.GroupAdd, []string{"audio", "1001"})
	equal(t, "OomScoreAdj", h.OomScoreAdj, -500)
	equal(t, "Annotations", h.Annotations, map[string]string{"com.example.note": "hello"})
	equal(t, "CgroupnsMode", h.CgroupnsMode, container.CgroupnsMode("private"))
	equal(t, "Runtime", h.Runtime, "runc")
	equal(t, "UTSMode", h.UTSMode, container.UTSMode("host"))
	equal(t, "Isolation", h.Isolation, container.Isolation("default"))
	equal(t, "StorageOpt", h.StorageOpt, map[string]string{"size": "1G"})
}

func TestBuildContainerSpecSeccompProfile(t *testing.T) {
	spec, _ := specOf(t, `
services:
  web:
    image: busybox
    security_opt: ["seccomp:./seccomp.json", "apparmor=unconfined"]
`, map[string]string{"seccomp.json": "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n"})
	equal(t, "SecurityOpt", spec.HostConfig.SecurityOpt, []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`, "apparmor=unconfined"})
	equal(t, "MaskedPaths", spec.HostConfig.MaskedPaths, nil)
}

func TestBuildContainerSpecResources(t *testing.T) {
	cases := []struct {
		name    string
		compose string
		want    container.Resources
	}{{
		name: "service-level fields",
		compose: `
services:
  web:
    image: busybox
    mem_limit: 512m
    mem_reservation: 128m
    memswap_limit: 1g
    cpus: 0.1
    cpu_shares: 512
    cpuset: "0,1"
    pids_limit: 100
    cgroup_parent: berthconv.slice
    cpu_period: 100000
    cpu_quota: 50000
    cpu_rt_period: 1000000
    cpu_rt_runtime: 950000
    mem_swappiness: 10
    oom_kill_disable: true
    device_cgroup_rules: ["c 1:3 mr"]
    devices: ["nvidia.com/gpu=all"]
`,
		want: container.Resources{
			Memory:             512 << 20,
			MemoryReservation:  128 << 20,
			MemorySwap:         1 << 30,
			NanoCPUs:           100_000_000,
			CPUShares:          512,
			CpusetCpus:         "0,1",
			PidsLimit:          ptr(int64(100)),
			CgroupParent:       "berthconv.slice",
			CPUPeriod:          100000,
			CPUQuota:           50000,
			CPURealtimePeriod:  1000000,
			CPURealtimeRuntime: 950000,
			MemorySwappiness:   ptr(int64(10)),
			OomKillDisable:     ptr(true),
			DeviceCgroupRules:  []string{"c 1:3 mr"},
			DeviceRequests:     []container.DeviceRequest{{Driver: "cdi", DeviceIDs: []string{"nvidia.com/gpu=all"}}},
		},
	}, {
		// compose-go refuses a service-level value that differs from its
		// deploy.resources twin, so each side is tested on its own.
		name: "deploy.resources; GPUs become device requests",
		compose: `
services:
  web:
    image: busybox
    gpus:
      - driver: nvidia
        device_ids: ["0"]
    deploy:
      resources:
        limits:
          cpus: "1.5"
          memory: 256m
          pids: 50
        reservations:
          memory: 64m
          devices:
            - driver: nvidia
              count: all
              capabilities: [gpu, utility]
`,
		want: container.Resources{
			Memory:            256 << 20,
			MemoryReservation: 64 << 20,
			NanoCPUs:          1_500_000_000,
			PidsLimit:         ptr(int64(50)),
			DeviceRequests: []container.DeviceRequest{
				{Driver: "nvidia", Count: -1, Capabilities: [][]string{{"gpu", "utility"}}},
				{Driver: "nvidia", DeviceIDs: []string{"0"}, Capabilities: [][]string{{"gpu"}}},
			},
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec, _ := specOf(t, tc.compose, nil)
			equal(t, "Resources", spec.HostConfig.Resources, tc.want)
		})
	}
}

func TestBuildContainerSpecRestart(t *testing.T) {
	cases := map[string]container.RestartPolicy{
		"restart: \"no\"":         {Name: container.RestartPolicyDisabled},
		"restart: always":         {Name: container.RestartPolicyAlways},
		"restart: unless-stopped": {Name: container.RestartPolicyUnlessStopped},
		"restart: always\n    deploy:\n      restart_policy: {condition: on-failure, max_attempts: 2}": {Name: container.RestartPolicyOnFailure, MaximumRetryCount: 2},
		"deploy:\n      restart_policy: {condition: any}":                                              {Name: container.RestartPolicyAlways},
	}
	for yaml, want := range cases {
		t.Run(yaml, func(t *testing.T) {
			spec, _ := specOf(t, "services:\n  web:\n    image: busybox\n    "+yaml+"\n", nil)
			equal(t, "RestartPolicy", spec.HostConfig.RestartPolicy, want)
		})
	}
}

func TestBuildContainerSpecErrors(t *testing.T) {
	p := mustLoadSpecProject(t, `
services:
  web:
    image: busybox
    container_name: only-one
  side:
    image: busybox
    network_mode: service:missing
  missing:
    image: busybox
`, nil)
	if _, err := convert.BuildContainerSpec(p, p.Services["web"], convert.SpecInput{Number: 2}); err == nil || !strings.Contains(err.Error(), `service "web": container_name`) {
		t.Errorf("container_name with number 2: got %v", err)
	}
	_, err := convert.BuildContainerSpec(p, p.Services["side"], convert.SpecInput{Number: 1, ContainerFor: fakeContainers})
	if err == nil || !strings.Contains(err.Error(), `service "side": network_mode: container of service "missing"`) {
		t.Errorf("missing dependency: got %v", err)
	}
	if _, err := convert.BuildContainerSpec(p, p.Services["side"], convert.SpecInput{Number: 1}); err == nil {
		t.Error("service: reference without ContainerFor: want an error")
	}
}

func TestCheckSupportedRefusesFields(t *testing.T) {
	cases := []struct {
		name    string
		service string
		extra   string
		want    []string
	}{
		{"build without image", "build: .", "", []string{`service "web": field "build" is not supported by berth: berth never builds images; set image`}},
		{"blkio_config", "image: busybox\n    blkio_config: {weight: 300}", "", []string{`service "web": field "blkio_config" is not supported by berth`}},
		{"links", "image: busybox\n    links: [db]\n  db:\n    image: busybox", "", []string{`service "web": field "links" is not supported by berth: use networks and aliases`}},
		{"external_links", "image: busybox\n    external_links: [other_db_1:db]", "", []string{`service "web": field "external_links" is not supported by berth: use networks`}},
		{"cpu_count", "image: busybox\n    cpu_count: 2", "", []string{`service "web": field "cpu_count" is not supported by berth: Windows only`}},
		{"post_start", "image: busybox\n    post_start: [{command: echo hi}]", "", []string{`service "web": field "post_start" is not supported by berth`}},
		{"use_api_socket", "image: busybox\n    use_api_socket: true", "", []string{`service "web": field "use_api_socket" is not supported by berth`}},
		{"deploy swarm fields", "image: busybox\n    deploy:\n      labels: {a: b}\n      placement: {constraints: [node.role==manager]}\n      update_config: {order: start-first}\n      resources:\n        reservations: {cpus: '0.5'}", "", []string{
			`service "web": field "deploy.labels" is not supported by berth: swarm service labels; use labels`,
			`service "web": field "deploy.placement" is not supported by berth`,
			`service "web": field "deploy.resources.reservations.cpus" is not supported by berth: a swarm scheduling hint; use limits`,
			`service "web": field "deploy.update_config" is not supported by berth: set the rollout strategy in x-berth`,
		}},
		{"secret from environment", "image: busybox\n    secrets: [token]", "secrets:\n  token: {environment: TOKEN}", []string{
			`service "web": field "secrets" is not supported by berth: secret "token" is from environment; berth mounts only file: secrets`,
		}},
		{"external secret", "image: busybox\n    secrets: [token]", "secrets:\n  token: {external: true}", []string{
			`service "web": field "secrets" is not supported by berth: secret "token" is external; berth mounts only file: secrets`,
		}},
		{"config from content and a mode", "image: busybox\n    configs: [{source: app, mode: 0400}]", "configs:\n  app: {content: hello}", []string{
			`service "web": field "configs" is not supported by berth: config "app" is from content; berth mounts only file: configs`,
			`service "web": field "configs.mode" is not supported by berth: config "app" is bind-mounted with the host file's mode`,
		}},
		{"start_interval without start_period", "image: busybox\n    healthcheck: {test: [CMD, x], start_interval: 1s}", "", []string{
			`service "web": field "healthcheck.start_interval" is not supported by berth: it needs healthcheck.start_period`,
		}},
		{"selinux label with a strict bind", "image: busybox\n    volumes: [{type: bind, source: ./x, target: /x, bind: {selinux: z, create_host_path: false}}]", "", []string{
			`service "web": field "volumes.bind.selinux" is not supported by berth: at /x it cannot go with propagation, recursive or create_host_path: false`,
		}},
		{"mac_address with network_mode", "image: busybox\n    network_mode: host\n    mac_address: 02:42:ac:11:00:02", "", []string{
			`service "web": field "mac_address" is not supported by berth: a MAC address belongs to a network, and network_mode is set`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadSpecProject(t, "services:\n  web:\n    "+tc.service+"\n"+tc.extra+"\n", nil)
			if err == nil {
				t.Fatal("load succeeded; want a refusal")
			}
			if !load.IsLoadError(err) {
				t.Errorf("want a LoadError, got %T", err)
			}
			got := strings.Split(errors.Unwrap(err).Error(), "\n")
			equal(t, "errors", got, tc.want)
		})
	}
}

func TestCheckSupportedCollectsSortedErrors(t *testing.T) {
	p := mustLoadSpecProject(t, `
services:
  web:
    image: busybox
  db:
    image: busybox
`, nil)
	web, db := p.Services["web"], p.Services["db"]
	web.Links = []string{"db"}
	web.BlkioConfig = &types.BlkioConfig{Weight: 10}
	db.UseAPISocket = true
	p.Services["web"], p.Services["db"] = web, db
	err := convert.CheckSupported(p)
	want := strings.Join([]string{
		`service "db": field "use_api_socket" is not supported by berth`,
		`service "web": field "blkio_config" is not supported by berth`,
		`service "web": field "links" is not supported by berth: use networks and aliases`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestCheckSupportedAcceptsHarmlessFields(t *testing.T) {
	mustLoadSpecProject(t, `
services:
  web:
    image: registry.example/web:1.2.3
    build: .
    pull_policy: missing
    profiles: [web]
    scale: 2
    depends_on:
      db: {condition: service_healthy}
    deploy:
      mode: replicated
      replicas: 2
    x-berth: {strategy: start-first}
    labels:
      x-note: fine
  db:
    image: busybox
    profiles: [web]
x-shared: {anything: goes}
`, nil)
}

func TestCheckEngineSupported(t *testing.T) {
	p := mustLoadSpecProject(t, `
services:
  web:
    image: busybox
    annotations: {a: b}
    healthcheck: {test: [CMD, x], start_period: 5s, start_interval: 1s}
    volumes:
      - {type: volume, source: data, target: /a, volume: {subpath: a}}
      - {type: volume, source: data, target: /b, volume: {subpath: b}}
    networks:
      front: {mac_address: "02:42:ac:11:00:02", gw_priority: 1}
networks:
  front:
    enable_ipv4: true
volumes:
  data:
`, nil)
	err := convert.CheckEngineSupport(p, "1.41")
	want := strings.Join([]string{
		`network "front": field "enable_ipv4" needs Docker Engine API 1.47; the engine speaks 1.41`,
		`service "web": field "annotations" needs Docker Engine API 1.43; the engine speaks 1.41`,
		`service "web": field "healthcheck.start_interval" needs Docker Engine API 1.44; the engine speaks 1.41`,
		`service "web": field "networks.front.gw_priority" needs Docker Engine API 1.48; the engine speaks 1.41`,
		`service "web": field "networks.front.mac_address" needs Docker Engine API 1.44; the engine speaks 1.41`,
		`service "web": field "volumes.volume.subpath" needs Docker Engine API 1.45; the engine speaks 1.41`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("1.41: got:\n%v\nwant:\n%s", err, want)
	}
	if err := convert.CheckEngineSupport(p, "1.51"); err != nil {
		t.Errorf("1.51: %v", err)
	}
}

func TestConvertNetworkCreateOptions(t *testing.T) {
	p := mustLoadSpecProject(t, `
services:
  web:
    image: busybox
    networks: [front, outside]
networks:
  front:
    driver: bridge
    driver_opts: {com.docker.network.bridge.name: berthconv0}
    internal: true
    attachable: true
    enable_ipv6: true
    labels: {team: web}
    ipam:
      config:
        - subnet: 172.28.0.0/16
          ip_range: 172.28.5.0/24
          gateway: 172.28.0.1
          aux_addresses: {router: 172.28.0.2}
  outside:
    external: true
    name: the-outside
`, nil)
	opts, err := convert.NetworkCreateOptions(p, "front")
	if err != nil {
		t.Fatal(err)
	}
	hash := opts.Labels[compose.LabelConfigHash]
	if len(hash) != 64 {
		t.Errorf("config-hash %q: want a SHA-256", hash)
	}
	equal(t, "Labels", opts.Labels, map[string]string{
		"team":                  "web",
		compose.LabelProject:    "demo",
		compose.LabelNetwork:    "front",
		compose.LabelVersion:    compose.ComposeVersion,
		compose.LabelConfigHash: hash,
	})
	equal(t, "Driver", opts.Driver, "bridge")
	equal(t, "Options", opts.Options, map[string]string{"com.docker.network.bridge.name": "berthconv0"})
	equal(t, "Internal", opts.Internal, true)
	equal(t, "Attachable", opts.Attachable, true)
	equal(t, "EnableIPv6", opts.EnableIPv6, ptr(true))
	equal(t, "IPAM", opts.IPAM, &network.IPAM{Config: []network.IPAMConfig{{
		Subnet:     netip.MustParsePrefix("172.28.0.0/16"),
		IPRange:    netip.MustParsePrefix("172.28.5.0/24"),
		Gateway:    addr("172.28.0.1"),
		AuxAddress: map[string]netip.Addr{"router": addr("172.28.0.2")},
	}}})
	if _, err := convert.NetworkCreateOptions(p, "outside"); err == nil {
		t.Error("external network: want an error")
	}

	front := p.Networks["front"]
	front.DriverOpts = map[string]string{"com.docker.network.bridge.name": "berthconv1"}
	p.Networks["front"] = front
	changed, err := convert.NetworkCreateOptions(p, "front")
	if err != nil {
		t.Fatal(err)
	}
	if changed.Labels[compose.LabelConfigHash] == hash {
		t.Error("config-hash did not change with driver_opts")
	}
}

func TestConvertVolumeCreateOptions(t *testing.T) {
	p := mustLoadSpecProject(t, `
services:
  web:
    image: busybox
    volumes: [data:/data, local:/local, ext:/ext]
volumes:
  data:
    driver_opts: {type: tmpfs, device: tmpfs}
    labels: {backup: daily}
  local:
    driver: local
    driver_opts: {type: tmpfs, device: tmpfs}
    labels: {backup: daily}
  ext:
    external: true
`, nil)
	opts, err := convert.VolumeCreateOptions(p, "data")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "Name", opts.Name, "demo_data")
	equal(t, "Driver", opts.Driver, "")
	equal(t, "DriverOpts", opts.DriverOpts, map[string]string{"type": "tmpfs", "device": "tmpfs"})
	hash := opts.Labels[compose.LabelConfigHash]
	equal(t, "Labels", opts.Labels, map[string]string{
		"backup":                "daily",
		compose.LabelProject:    "demo",
		compose.LabelVolume:     "data",
		compose.LabelVersion:    compose.ComposeVersion,
		compose.LabelConfigHash: hash,
	})
	// compose hashes an unset driver as "local": the same definition with
	// driver: local and another name hashes differently only by its name.
	local, err := convert.VolumeCreateOptions(p, "local")
	if err != nil {
		t.Fatal(err)
	}
	data := p.Volumes["data"]
	data.Name = "demo_local"
	p.Volumes["data"] = data
	renamed, err := convert.VolumeCreateOptions(p, "data")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "hash of unset driver vs local", renamed.Labels[compose.LabelConfigHash], local.Labels[compose.LabelConfigHash])
	if _, err := convert.VolumeCreateOptions(p, "ext"); err == nil {
		t.Error("external volume: want an error")
	}
	if _, err := convert.VolumeCreateOptions(p, "nope"); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", "nope")) {
		t.Errorf("undefined volume: got %v", err)
	}
}
