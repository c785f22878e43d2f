//go:build unix

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// TestBerthRunInContainer runs `berth run` as users run it: the berth image,
// as its non-root user with the engine's socket and the socket's group, the
// data dir mounted at the same path inside and out, following a repo on a
// real Git server with basic auth. It deploys, follows a commit, and stops
// with exit 0 on `docker stop`.
func TestBerthRunInContainer(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", shopCompose)
	first := in.commit("shop")

	base := t.TempDir()
	readableByAll(t, base)
	data, secrets := filepath.Join(base, "data"), filepath.Join(base, "secrets")
	for _, d := range []string{data, secrets} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, 65532, 65532); err != nil {
			t.Skipf("cannot give the data dir to the image's user 65532: %v", err)
		}
	}
	pw := filepath.Join(secrets, "git-password")
	if err := os.WriteFile(pw, []byte(gitPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(pw, 65532, 65532); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	c := berthContainer{mounts: []string{data, secrets}, env: []string{"BERTH_HOST=host-a"}}
	args := append([]string{"run", "-d", "--network", "host"}, c.dockerArgs(t)...)
	name := args[indexOf(args, "--name")+1]
	args = append(args, "run", "--repo", in.srv.URL("infra"), "--git-username", gitUser, "--git-password-file", pw,
		"--data-dir", data, "--listen", addr, "--poll", "1s", "--settle", "500ms", "--log-format", "json")
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	t.Cleanup(func() {
		out, _ := exec.Command("docker", "logs", name).CombinedOutput()
		t.Logf("berth container log:\n%s", out)
	})
	run := &berthRun{t: t, addr: addr, socket: filepath.Join(data, "berth.sock"), done: make(chan error, 1)}
	run.waitApplied(shop.project, first, 90*time.Second)
	for name, ctr := range shop.containers() {
		if ctr.State != "running" {
			t.Fatalf("%s is %s", name, ctr.State)
		}
	}

	in.write("shop", "compose.yaml", strings.ReplaceAll(shopCompose, "app:1.0", "app:1.1"))
	second := in.commit("shop 1.1")
	run.waitApplied(shop.project, second, 30*time.Second)

	if out, err := exec.Command("docker", "stop", "-t", "30", name).CombinedOutput(); err != nil {
		t.Fatalf("docker stop: %v\n%s", err, out)
	}
	res, err := in.cli.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := res.Container.State; st == nil || st.ExitCode != 0 {
		t.Fatalf("berth run in a container did not exit 0 on SIGTERM: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(data, "berth.db")); err != nil {
		t.Fatalf("no state in the mounted data dir: %v", err)
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
