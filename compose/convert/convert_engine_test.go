package convert_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/convert"
	"github.com/berth-gitops/berth/compose/observe"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

const convTestImage = "berthconv/test:1"

// TestConvertSpecOnEngine creates (without starting) a container from a rich
// service on the real engine, then reads it back: the engine must accept
// every converted field at the oldest API berth supports.
func TestConvertSpecOnEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cli, err := observe.Connect(ctx)
	if err != nil {
		if os.Getenv("BERTH_E2E") == "off" {
			t.Skipf("no Docker engine and BERTH_E2E=off: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	buildConvTestImage(ctx, t, cli)

	project := fmt.Sprintf("berthconv%06x", time.Now().UnixNano()&0xffffff)
	p := mustLoadSpecProject(t, "name: "+project+`
services:
  web:
    image: `+convTestImage+`
    entrypoint: ["/hello.txt"]
    command: ["serve", "--port", "80"]
    environment: {B: "2", A: "1"}
    labels: {com.example.team: web}
    ports: ["18080:80", "127.0.0.1:19000-19001:9000-9001/udp", "3000"]
    expose: ["5000-5001"]
    volumes:
      - data:/data
      - /anon
      - ./conf:/conf:ro
      - {type: tmpfs, target: /scratch, tmpfs: {size: 1m, mode: 0o700}}
      - {type: volume, source: data, target: /nocopy, volume: {nocopy: true}}
    tmpfs: ["/run:size=1m"]
    secrets: [token]
    configs: [{source: app, target: /etc/app.conf}]
    networks:
      back:
      front:
        priority: 10
        aliases: [www]
        ipv4_address: 10.213.213.10
    healthcheck: {test: ["CMD", "/hello.txt"], interval: 5s, timeout: 2s, retries: 2, start_period: 1s}
    restart: on-failure:2
    logging: {driver: json-file, options: {max-size: 1m}}
    deploy:
      resources:
        limits: {cpus: "0.5", memory: 64m, pids: 64}
        reservations: {memory: 16m}
    cpu_shares: 256
    ulimits: {nofile: {soft: 1024, hard: 2048}}
    user: "1000:1000"
    working_dir: /data
    hostname: conv
    domainname: example.test
    extra_hosts: ["db.local:10.1.2.3"]
    dns: [9.9.9.9]
    dns_search: [example.test]
    dns_opt: [use-vc]
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    security_opt: [no-new-privileges:true]
    devices: ["/dev/null:/dev/mynull:rwm"]
    sysctls: {net.core.somaxconn: "1024"}
    stop_signal: SIGINT
    stop_grace_period: 7s
    init: true
    read_only: true
    shm_size: 32m
    tty: true
    stdin_open: true
    group_add: ["1001"]
    oom_score_adj: 100
networks:
  front:
    # 10.x: outside the engine's default pools, so the networks other
    # tests create at the same time cannot have taken it.
    ipam: {config: [{subnet: 10.213.213.0/24}]}
  back:
volumes:
  data:
secrets:
  token: {file: ./token}
configs:
  app: {file: ./app.conf}
`, map[string]string{"token": "s3cret\n", "app.conf": "a=1\n", "conf/x": "x\n"})
	if err := convert.CheckEngineSupport(p, cli.ClientVersion()); err != nil {
		t.Fatalf("CheckEngineSupport(%s): %v", cli.ClientVersion(), err)
	}

	createProjectResources(ctx, t, cli, p)
	spec, err := convert.BuildContainerSpec(p, p.Services["web"], convert.SpecInput{Number: 1, Labels: map[string]string{compose.LabelContainerNumber: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: spec.Name, Config: spec.Config, HostConfig: spec.HostConfig, NetworkingConfig: spec.Networking,
	})
	if err != nil {
		t.Fatalf("ContainerCreate: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := cli.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			t.Errorf("remove container: %v", err)
		}
	})
	for _, extra := range spec.ExtraNetworks {
		if _, err := cli.NetworkConnect(ctx, extra.Network, client.NetworkConnectOptions{Container: created.ID, EndpointConfig: extra.Endpoint}); err != nil {
			t.Fatalf("NetworkConnect %s: %v", extra.Network, err)
		}
	}
	got, err := cli.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkInspected(t, p.Name, p.WorkingDir, got.Container)
}

func checkInspected(t *testing.T, project, dir string, c container.InspectResponse) {
	t.Helper()
	equal(t, "Name", c.Name, "/"+project+"-web-1")
	cfg, h := c.Config, c.HostConfig
	equal(t, "Entrypoint", cfg.Entrypoint, []string{"/hello.txt"})
	equal(t, "Cmd", cfg.Cmd, []string{"serve", "--port", "80"})
	// The engine adds the image's variables (PATH) to ours.
	env := slices.DeleteFunc(slices.Clone(cfg.Env), func(e string) bool { return strings.HasPrefix(e, "PATH=") })
	equal(t, "Env", env, []string{"A=1", "B=2"})
	equal(t, "label team", cfg.Labels["com.example.team"], "web")
	equal(t, "label project", cfg.Labels[compose.LabelProject], project)
	equal(t, "label number", cfg.Labels[compose.LabelContainerNumber], "1")
	equal(t, "Healthcheck", cfg.Healthcheck, &container.HealthConfig{
		Test: []string{"CMD", "/hello.txt"}, Interval: 5 * time.Second, Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 2,
	})
	equal(t, "User", cfg.User, "1000:1000")
	equal(t, "WorkingDir", cfg.WorkingDir, "/data")
	equal(t, "Hostname", cfg.Hostname, "conv")
	equal(t, "Domainname", cfg.Domainname, "example.test")
	equal(t, "StopSignal", cfg.StopSignal, "SIGINT")
	equal(t, "StopTimeout", cfg.StopTimeout, ptr(7))
	equal(t, "Tty/OpenStdin", []bool{cfg.Tty, cfg.OpenStdin}, []bool{true, true})
	equal(t, "ExposedPorts", cfg.ExposedPorts, network.PortSet{
		port("80/tcp"): {}, port("9000/udp"): {}, port("9001/udp"): {}, port("3000/tcp"): {}, port("5000/tcp"): {}, port("5001/tcp"): {},
	})
	equal(t, "PortBindings", h.PortBindings, network.PortMap{
		port("80/tcp"):   {{HostPort: "18080"}},
		port("9000/udp"): {{HostIP: addr("127.0.0.1"), HostPort: "19000"}},
		port("9001/udp"): {{HostIP: addr("127.0.0.1"), HostPort: "19001"}},
		port("3000/tcp"): {{}},
	})
	equal(t, "Binds", h.Binds, []string{project + "_data:/data:rw", dir + "/conf:/conf:ro"})
	equal(t, "Mounts", h.Mounts, []mount.Mount{
		{Type: mount.TypeVolume, Target: "/anon"},
		{Type: mount.TypeTmpfs, Target: "/scratch", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o700}},
		{Type: mount.TypeVolume, Source: project + "_data", Target: "/nocopy", VolumeOptions: &mount.VolumeOptions{NoCopy: true}},
		{Type: mount.TypeBind, Source: dir + "/token", Target: "/run/secrets/token", ReadOnly: true},
		{Type: mount.TypeBind, Source: dir + "/app.conf", Target: "/etc/app.conf", ReadOnly: true},
	})
	equal(t, "Tmpfs", h.Tmpfs, map[string]string{"/run": "size=1m"})
	equal(t, "NetworkMode", h.NetworkMode, container.NetworkMode(project+"_front"))
	equal(t, "RestartPolicy", h.RestartPolicy, container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 2})
	// The engine adds its own default log options (daemon.json) to ours.
	equal(t, "LogConfig", []string{h.LogConfig.Type, h.LogConfig.Config["max-size"]}, []string{"json-file", "1m"})
	equal(t, "Memory", h.Memory, int64(64<<20))
	equal(t, "MemoryReservation", h.MemoryReservation, int64(16<<20))
	equal(t, "NanoCPUs", h.NanoCPUs, int64(500_000_000))
	equal(t, "PidsLimit", h.PidsLimit, ptr(int64(64)))
	equal(t, "CPUShares", h.CPUShares, int64(256))
	equal(t, "Ulimits", h.Ulimits, []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}})
	equal(t, "ExtraHosts", h.ExtraHosts, []string{"db.local:10.1.2.3"})
	equal(t, "DNS", h.DNS, []netip.Addr{addr("9.9.9.9")})
	equal(t, "DNSSearch/DNSOptions", [][]string{h.DNSSearch, h.DNSOptions}, [][]string{{"example.test"}, {"use-vc"}})
	// The client normalizes capability names before sending them.
	equal(t, "CapAdd/CapDrop", [][]string{h.CapAdd, h.CapDrop}, [][]string{{"CAP_NET_ADMIN"}, {"CAP_MKNOD"}})
	equal(t, "SecurityOpt", h.SecurityOpt, []string{"no-new-privileges:true"})
	equal(t, "Devices", h.Devices, []container.DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "/dev/mynull", CgroupPermissions: "rwm"}})
	equal(t, "Sysctls", h.Sysctls, map[string]string{"net.core.somaxconn": "1024"})
	equal(t, "Init", h.Init, ptr(true))
	equal(t, "ReadonlyRootfs", h.ReadonlyRootfs, true)
	equal(t, "ShmSize", h.ShmSize, int64(32<<20))
	equal(t, "GroupAdd", h.GroupAdd, []string{"1001"})
	equal(t, "OomScoreAdj", h.OomScoreAdj, 100)

	front := c.NetworkSettings.Networks[project+"_front"]
	back := c.NetworkSettings.Networks[project+"_back"]
	if front == nil || back == nil {
		t.Fatalf("networks: got %v", slices.Collect(maps.Keys(c.NetworkSettings.Networks)))
	}
	for _, alias := range []string{project + "-web-1", "web", "www"} {
		if !slices.Contains(front.Aliases, alias) {
			t.Errorf("front aliases %v: missing %q", front.Aliases, alias)
		}
	}
	equal(t, "front IPAMConfig", front.IPAMConfig, &network.EndpointIPAMConfig{IPv4Address: addr("10.213.213.10")})
	if !slices.Contains(back.Aliases, "web") {
		t.Errorf("back aliases %v: missing web", back.Aliases)
	}
}

// createProjectResources creates the project's networks and volumes the way
// berth will, removing them when the test ends.
func createProjectResources(ctx context.Context, t *testing.T, cli *client.Client, p *types.Project) {
	t.Helper()
	for _, key := range slices.Sorted(maps.Keys(p.Networks)) {
		opts, err := convert.NetworkCreateOptions(p, key)
		if err != nil {
			t.Fatal(err)
		}
		name := p.Networks[key].Name
		if _, err := cli.NetworkCreate(ctx, name, opts); err != nil {
			t.Fatalf("NetworkCreate %s: %v", name, err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := cli.NetworkRemove(ctx, name, client.NetworkRemoveOptions{}); err != nil {
				t.Errorf("remove network %s: %v", name, err)
			}
		})
	}
	for _, key := range slices.Sorted(maps.Keys(p.Volumes)) {
		opts, err := convert.VolumeCreateOptions(p, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cli.VolumeCreate(ctx, opts); err != nil {
			t.Fatalf("VolumeCreate %s: %v", opts.Name, err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := cli.VolumeRemove(ctx, opts.Name, client.VolumeRemoveOptions{}); err != nil {
				t.Errorf("remove volume %s: %v", opts.Name, err)
			}
		})
	}
}

// buildConvTestImage builds a one-file image from an in-memory context and
// removes it when the test ends.
func buildConvTestImage(ctx context.Context, t *testing.T, cli *client.Client) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range map[string]string{
		"Dockerfile": "FROM scratch\nCOPY hello.txt /hello.txt\n",
		"hello.txt":  "hello from berth\n",
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(content))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Tags: []string{convTestImage}, Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		t.Fatalf("ImageBuild: %v", err)
	}
	defer res.Body.Close()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := cli.ImageRemove(ctx, convTestImage, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("remove image: %v", err)
		}
	})
	if err := buildStreamError(res.Body); err != nil {
		t.Fatalf("ImageBuild: %v", err)
	}
}

// buildStreamError reads a build's JSON message stream to its end and
// returns the first error it reports.
func buildStreamError(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
}
