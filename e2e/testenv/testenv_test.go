package testenv

import (
	"bytes"
	"context"
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

func TestUniqueProject(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	for _, name := range []string{"Weird Name/with#01 and ÜNICODE", "9lives", "a_very_long_name_that_goes_on_and_on_and_on_and_on_forever"} {
		t.Run(name, func(t *testing.T) {
			a, b := UniqueProject(t), UniqueProject(t)
			if !valid.MatchString(a) || len(a) > 48 {
				t.Errorf("UniqueProject = %q: not a valid short compose project name", a)
			}
			if a == b {
				t.Errorf("UniqueProject returned %q twice", a)
			}
		})
	}
}

func TestBuildImagesAndRun(t *testing.T) {
	cli := Engine(t)
	const v1, v2 = TagPrefix + "testenv:v1", TagPrefix + "testenv:v2"

	start := time.Now()
	BuildImages(t, cli, v1, v2)
	t.Logf("BuildImages, first call in this process: %s", time.Since(start))
	id1, id2 := imageID(t, cli, v1), imageID(t, cli, v2)
	if id1 == id2 {
		t.Fatalf("%s and %s share image ID %s", v1, v2, id1)
	}
	start = time.Now()
	BuildImages(t, cli, v1, v2)
	t.Logf("BuildImages, second call: %s", time.Since(start))
	if imageID(t, cli, v1) != id1 || imageID(t, cli, v2) != id2 {
		t.Errorf("second BuildImages rebuilt an unchanged image")
	}

	project := UniqueProject(t)
	t.Run("run", func(t *testing.T) {
		Cleanup(t, cli, project)
		runBoth(t, cli, project, v1, v2)
	})
	if errs := leftovers(t, cli, project); len(errs) > 0 {
		t.Errorf("after Cleanup, project %s still has %v", project, errs)
	}
}

// runBoth starts a v1 server on a user network with a volume, checks it from
// inside with exec, and from a v2 client container by its network alias.
func runBoth(t *testing.T, cli *client.Client, project, server, clientImage string) {
	ctx := t.Context()
	labels := map[string]string{ProjectLabel: project}
	netName, volName := project+"_default", project+"_data"
	if _, err := cli.NetworkCreate(ctx, netName, client.NetworkCreateOptions{Driver: "bridge", Labels: labels}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: volName, Labels: labels}); err != nil {
		t.Fatal(err)
	}
	web := startContainer(t, cli, project+"-web-1", netName, &container.Config{
		Image:  server,
		Env:    []string{"WRITE_FILE=/data/versions"},
		Labels: withService(labels, "web"),
		// As compose sends `healthcheck: test: ["CMD", "/app", "health"]`.
		Healthcheck: &container.HealthConfig{Test: []string{"CMD", "/app", "health"}, Interval: 200 * time.Millisecond},
	}, mount.Mount{Type: mount.TypeVolume, Source: volName, Target: "/data"})

	waitFor(t, 15*time.Second, func() bool { return healthStatus(t, cli, web) == container.Healthy })
	if code, out := execIn(t, cli, web, "/app", "get", "http://127.0.0.1:8080/version"); code != 0 || out != "v1\n" {
		t.Errorf("get /version in web: exit %d, output %q; want 0, %q", code, out, "v1\n")
	}
	if code, out := execIn(t, cli, web, "/app", "cat", "/data/versions"); code != 0 || out != "v1\n" {
		t.Errorf("cat /data/versions: exit %d, output %q; want 0, %q", code, out, "v1\n")
	}
	if code, _ := execIn(t, cli, web, "/app", "health", "http://127.0.0.1:1/healthz"); code != 1 {
		t.Errorf("health against a closed port: exit %d, want 1", code)
	}

	probe := startContainer(t, cli, project+"-probe-1", netName, &container.Config{
		Image:  clientImage,
		Cmd:    []string{"get", "http://web:8080/version"},
		Labels: withService(labels, "probe"),
	})
	if code, out := waitExit(t, cli, probe); code != 0 || out != "v1\n" {
		t.Errorf("get http://web:8080/version from a %s container: exit %d, output %q; want 0, %q", clientImage, code, out, "v1\n")
	}
}

func startContainer(t *testing.T, cli *client.Client, name, netName string, cfg *container.Config, mounts ...mount.Mount) string {
	t.Helper()
	ctx := t.Context()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       name,
		Config:     cfg,
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(netName), Mounts: mounts},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			netName: {Aliases: []string{cfg.Labels["com.docker.compose.service"]}},
		}},
	})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return created.ID
}

// execIn runs cmd in a running container and returns its exit code and stdout.
func execIn(t *testing.T, cli *client.Client, id string, cmd ...string) (int, string) {
	t.Helper()
	ctx := t.Context()
	ex, err := cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	att, err := cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	defer att.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader); err != nil {
		t.Fatalf("exec %v: read output: %v", cmd, err)
	}
	// The exit code can lag a moment behind the end of the output stream.
	for {
		res, err := cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err != nil {
			t.Fatalf("exec %v: %v", cmd, err)
		}
		if !res.Running {
			return res.ExitCode, stdout.String()
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitExit waits for a container to stop and returns its exit code and stdout.
func waitExit(t *testing.T, cli *client.Client, id string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	wait := cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	var code int
	select {
	case res := <-wait.Result:
		code = int(res.StatusCode)
	case err := <-wait.Error:
		t.Fatalf("wait for %s: %v", id, err)
	}
	logs, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var stdout bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stdout, logs); err != nil {
		t.Fatal(err)
	}
	return code, stdout.String()
}

func healthStatus(t *testing.T, cli *client.Client, id string) container.HealthStatus {
	t.Helper()
	res, err := cli.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Container.State == nil || res.Container.State.Health == nil {
		t.Fatalf("container %s has no health state", id)
	}
	return res.Container.State.Health.Status
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func imageID(t *testing.T, cli *client.Client, tag string) string {
	t.Helper()
	img, err := cli.ImageInspect(t.Context(), tag)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Config.Labels[TagLabel]; got != tag {
		t.Errorf("image %s: label %s=%q", tag, TagLabel, got)
	}
	want := "VERSION=" + tag[strings.LastIndex(tag, ":")+1:]
	if !strings.Contains(strings.Join(img.Config.Env, "\n"), want) {
		t.Errorf("image %s: env %v lacks %s", tag, img.Config.Env, want)
	}
	return img.ID
}

func withService(labels map[string]string, service string) map[string]string {
	l := maps.Clone(labels)
	l["com.docker.compose.service"] = service
	return l
}

// leftovers lists what of the project is still on the engine.
func leftovers(t *testing.T, cli *client.Client, project string) []string {
	ctx := t.Context()
	filters := client.Filters{}.Add("label", ProjectLabel+"="+project)
	var left []string
	containers, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range containers.Items {
		left = append(left, "container "+c.ID)
	}
	networks, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filters})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range networks.Items {
		left = append(left, "network "+n.Name)
	}
	volumes, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: filters})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range volumes.Items {
		left = append(left, "volume "+v.Name)
	}
	return left
}
