//go:build unix

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/e2e/testenv"
	"github.com/moby/moby/client"
)

const (
	// berthImageTag is the image built from the Dockerfile's host stage. It
	// starts with testenv.TagPrefix, so it is a test image like the others.
	berthImageTag = testenv.TagPrefix + "berth:e2e"
	// containerVersion is the version stamped into the binary in the image.
	containerVersion = "e2e-container"
	// nonRoot is the user the image runs as.
	nonRoot = "65532:65532"
	// caCerts is the host's CA bundle, copied into the image when present.
	caCerts = "/etc/ssl/certs/ca-certificates.crt"
)

// TestBerthInContainer runs berth from its own image, built offline the way
// the Dockerfile describes, against the host's engine through the mounted
// socket, as the non-root user of the image.
func TestBerthInContainer(t *testing.T) {
	s := newStack(t, ".")
	readableByAll(t, s.dir)
	image := berthImage(t)

	t.Run("image", func(t *testing.T) {
		checkImageConfig(t, s.cli, image)
		checkImageFiles(t, s.cli, image)
	})

	t.Run("version", func(t *testing.T) {
		out, errOut, code := runBerthContainer(t, berthContainer{}, "version")
		if code != 0 || !strings.HasPrefix(out, "berth "+containerVersion+" (") {
			t.Fatalf("berth version: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	t.Run("apply from inside reaches the host engine", func(t *testing.T) {
		s.t = t
		c := berthContainer{mounts: []string{s.dir}}
		stack := []string{"-p", s.project, s.dir}
		mustBerthContainer(t, c, 1, append([]string{"plan"}, stack...)...)
		mustBerthContainer(t, c, 0, append([]string{"apply"}, stack...)...)
		web, ok := s.containers()[s.name("web", 1)]
		if !ok || web.State != "running" {
			t.Fatalf("web: want running on the host engine, got %+v", web)
		}
		for label, want := range map[string]string{
			compose.LabelProject:      s.project,
			compose.LabelService:      "web",
			compose.LabelWorkingDir:   s.dir,
			compose.LabelBerthManaged: "true",
		} {
			if got := web.Labels[label]; got != want {
				t.Errorf("label %s = %q, want %q", label, got, want)
			}
		}
		if got := s.exec(web.ID, "/app", "cat", "/site/index.txt"); got != s.read("site/index.txt") {
			t.Errorf("the bind of ./site holds %q, not the stack folder's file", got)
		}
		// The same stack seen from the host: berth in and out of the
		// container compute the same desired state.
		if out := s.mustBerth(0, "plan"); !strings.Contains(out, "in sync") {
			t.Errorf("host plan after the container's apply: %s", out)
		}
		mustBerthContainer(t, c, 0, append([]string{"plan"}, stack...)...)
	})
}

// berthContainer is one run of the berth image on the host's engine: with
// the engine's socket mounted and its group added, so that the image's
// non-root user may use it. A test of `berth run` starts `docker run -d`
// with dockerArgs, and mounts a data folder owned by 65532 at the same path
// (berth exports the stacks into it, and the engine resolves their binds).
type berthContainer struct {
	mounts []string // host folders, each mounted read-write at the same path inside
	env    []string // KEY=VALUE
}

// dockerArgs returns the flags and the image of a `docker run` of c, without
// berth's arguments. The container is named uniquely, and removed when the
// test ends in case the run was cut short.
func (c berthContainer) dockerArgs(t testing.TB) []string {
	t.Helper()
	cli := testenv.Engine(t)
	image := berthImage(t)
	sock, gid := engineSocket(t, cli)
	name := testenv.UniqueProject(t) + "-berth"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = cli.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	})
	args := []string{"--name", name, "--group-add", fmt.Sprint(gid), "-v", sock + ":/var/run/docker.sock", "-e", "NO_COLOR=1"}
	for _, m := range c.mounts {
		args = append(args, "-v", m+":"+m)
	}
	for _, e := range c.env {
		args = append(args, "-e", e)
	}
	return append(args, image)
}

// runBerthContainer runs berth args in a fresh container of the berth image
// and returns its output and exit code.
func runBerthContainer(t testing.TB, c berthContainer, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append(append([]string{"run", "--rm"}, c.dockerArgs(t)...), args...)
	cmd := exec.CommandContext(ctx, "docker", full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("docker run berth %v: %v", args, err)
	}
	t.Logf("berth (container) %s → exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return out.String(), errb.String(), code
}

// mustBerthContainer runs berth in a container and fails the test unless it
// exits with want.
func mustBerthContainer(t testing.TB, c berthContainer, want int, args ...string) string {
	t.Helper()
	out, errOut, code := runBerthContainer(t, c, args...)
	if code != want {
		t.Fatalf("berth (container) %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, out, errOut)
	}
	return out
}

// berthImg is the outcome of building the berth image, once per test process.
var berthImg struct {
	once sync.Once
	err  error
}

// berthImage builds berthImageTag from the Dockerfile's host stage, staging
// its context the way the Dockerfile's header tells people to, and returns
// the tag. The legacy builder caches the steps, so an unchanged binary
// rebuilds nothing.
func berthImage(t testing.TB) string {
	t.Helper()
	cli := testenv.Engine(t)
	berthImg.once.Do(func() {
		start := time.Now()
		berthImg.err = buildBerthImage(cli)
		t.Logf("build %s from the Dockerfile's host stage: %s", berthImageTag, time.Since(start).Round(time.Millisecond))
	})
	if berthImg.err != nil {
		t.Fatal(berthImg.err)
	}
	return berthImageTag
}

func buildBerthImage(cli *client.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return fmt.Errorf("engine version: %w", err)
	}
	dir, err := os.MkdirTemp("", "berth-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := stageHostContext(ctx, dir, v.Arch); err != nil {
		return fmt.Errorf("stage the build context of the host stage: %w", err)
	}
	// The staged stage is tagged as well: the legacy builder would leave it
	// dangling, and a tag lets the next build remove the image it replaces.
	for _, target := range []struct{ stage, tag string }{
		{"staged", berthImageTag + "-staged"},
		{"host", berthImageTag},
	} {
		if err := buildTarget(ctx, cli, dir, target.stage, target.tag); err != nil {
			return err
		}
	}
	return nil
}

// buildTarget builds one stage of the Dockerfile in dir as tag with the
// legacy builder, and removes the image the tag held before if it changed.
func buildTarget(ctx context.Context, cli *client.Client, dir, stage, tag string) error {
	old, _ := cli.ImageInspect(ctx, tag)
	build := exec.CommandContext(ctx, "docker", "build", "--target", stage, "-t", tag, dir)
	build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build --target %s: %w\n%s", stage, err, out)
	}
	if img, err := cli.ImageInspect(ctx, tag); old.ID != "" && err == nil && img.ID != old.ID {
		_, _ = cli.ImageRemove(ctx, old.ID, client.ImageRemoveOptions{PruneChildren: true})
	}
	return nil
}

// stageHostContext fills dir with the build context of the Dockerfile's
// host target, staged as the Dockerfile's header tells people to: a static
// berth for arch, passwd and group, and the host's CA bundle if it has one.
func stageHostContext(ctx context.Context, dir, arch string) error {
	rootfs := filepath.Join(dir, "bin/rootfs")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -X main.version="+containerVersion, "-o", filepath.Join(rootfs, "usr/local/bin/berth"), "github.com/berth-gitops/berth/cmd/berth")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "etc/ssl/certs"), 0o755); err != nil {
		return err
	}
	for name, content := range map[string]string{
		"bin/rootfs/etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/var/lib/berth:/sbin/nologin\n",
		"bin/rootfs/etc/group":  "root:x:0:\nnonroot:x:65532:\n",
		// The context of `docker build .` in a checkout: go.mod is always there.
		"go.mod": "module github.com/berth-gitops/berth\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	for name, src := range map[string]string{
		"Dockerfile":    "../Dockerfile",
		".dockerignore": "../.dockerignore",
		"bin/rootfs/etc/ssl/certs/ca-certificates.crt": caCerts,
	} {
		raw, err := os.ReadFile(src)
		if src == caCerts && errors.Is(err, fs.ErrNotExist) {
			continue // a host without CA certificates makes an image without them
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// engineSocket returns the path of the engine's unix socket and its group.
// berth's image reaches the engine through that socket only, so an engine
// behind TCP or SSH skips the test.
func engineSocket(t testing.TB, cli *client.Client) (path string, gid uint32) {
	t.Helper()
	host := cli.DaemonHost()
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "unix" {
		t.Skipf("berth in a container needs the engine's unix socket; the engine is at %s", host)
	}
	fi, err := os.Stat(u.Path)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path, fi.Sys().(*syscall.Stat_t).Gid
}

// readableByAll lets the image's non-root user read dir: t.TempDir makes
// folders only their owner can enter.
func readableByAll(t testing.TB, dir string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir())
	for d := dir; strings.HasPrefix(d, tmp+string(filepath.Separator)); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, fi.Mode().Perm()|0o055); err != nil {
			t.Fatal(err)
		}
	}
}

// checkImageConfig checks what `docker run IMAGE` does by default.
func checkImageConfig(t *testing.T, cli *client.Client, image string) {
	t.Helper()
	img, err := cli.ImageInspect(context.Background(), image)
	if err != nil {
		t.Fatal(err)
	}
	cfg := img.Config
	got := fmt.Sprintf("user=%s entrypoint=%v cmd=%v workdir=%s volumes=%v ports=%v",
		cfg.User, cfg.Entrypoint, cfg.Cmd, cfg.WorkingDir, slices.Sorted(maps.Keys(cfg.Volumes)), slices.Sorted(maps.Keys(cfg.ExposedPorts)))
	want := "user=" + nonRoot + " entrypoint=[berth] cmd=[run] workdir=/var/lib/berth volumes=[/var/lib/berth] ports=[9300/tcp]"
	if got != want {
		t.Errorf("image config:\n got %s\nwant %s", got, want)
	}
	t.Logf("image %s: %.1f MB", image, float64(img.Size)/1e6)
}

// checkImageFiles checks the image's files, their owners and modes.
func checkImageFiles(t *testing.T, cli *client.Client, image string) {
	t.Helper()
	ctx := context.Background()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Image: image})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true})
	export, err := cli.ContainerExport(ctx, created.ID, client.ContainerExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer export.Close()
	files := map[string]string{}
	var regular []string
	tr := tar.NewReader(export)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		files[name] = fmt.Sprintf("%d:%d %o", hdr.Uid, hdr.Gid, hdr.Mode&0o777)
		if hdr.Typeflag == tar.TypeReg {
			regular = append(regular, name)
		}
	}
	want := map[string]string{
		"usr/local/bin/berth": "0:0 755",
		"etc/passwd":          "0:0 644",
		"etc/group":           "0:0 644",
		"var/lib/berth":       "65532:65532 755",
	}
	if _, err := os.Stat(caCerts); err == nil {
		want["etc/ssl/certs/ca-certificates.crt"] = "0:0 644"
	}
	for name, w := range want {
		if got, ok := files[name]; !ok || got != w {
			t.Errorf("%s in the image: %q, want %q", name, got, w)
		}
	}
	// The engine adds these to every container; anything else is not ours.
	runtime := []string{".dockerenv", "dev/console", "etc/hostname", "etc/hosts", "etc/resolv.conf"}
	for _, name := range regular {
		if _, ok := want[name]; !ok && !slices.Contains(runtime, name) {
			t.Errorf("unexpected file in the image: %s", name)
		}
	}
}
