package testenv

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

const (
	// TagPrefix starts every test image tag, so that a test can never
	// overwrite or remove an image that is not berth's own.
	TagPrefix = "berthtest/"
	// TagLabel holds the tag an image was built for.
	TagLabel = "dev.berth.test.tag"
	// ContentLabel holds the sha256 of the test program and the Dockerfile
	// recipe: an image whose label differs from the current one is rebuilt.
	ContentLabel = "dev.berth.test.content-sha256"

	testimagePkg = "github.com/berth-gitops/berth/e2e/testimage"
)

var validTag = regexp.MustCompile(`^` + regexp.QuoteMeta(TagPrefix) + `[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$`)

// program is the test program, compiled once per test process.
var program struct {
	once sync.Once
	bin  []byte
	sum  string
	err  error
}

// BuildImages makes sure an image of the test program exists for each tag
// (each must start with TagPrefix). The image is FROM scratch with the
// program as /app and ENTRYPOINT ["/app"], labelled with TagLabel and
// ContentLabel, and has VERSION set to the tag's tag part ("v1" for
// "berthtest/web:v1"), so every tag is a distinct image that serves its own
// version. A tag that already holds the same program is not rebuilt.
func BuildImages(t testing.TB, cli *client.Client, tags ...string) {
	t.Helper()
	for _, tag := range tags {
		if !validTag.MatchString(tag) {
			t.Fatalf("test image tag %q: want %sNAME[:TAG] in lowercase letters, digits and ._-", tag, TagPrefix)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	program.once.Do(func() { program.bin, program.sum, program.err = compile(ctx, cli) })
	if program.err != nil {
		t.Fatal(program.err)
	}
	unlock, err := lockImages()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, tag := range tags {
		if err := ensureImage(ctx, cli, tag); err != nil {
			t.Fatal(err)
		}
	}
}

// RemoveImages removes the given test image tags, for tests that need an
// image to be missing. Tags that do not exist are fine; a tag that does not
// hold an image built by BuildImages fails the test and is left alone.
func RemoveImages(t testing.TB, cli *client.Client, tags ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tag := range tags {
		img, err := cli.ImageInspect(ctx, tag)
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			t.Fatalf("inspect image %s: %v", tag, err)
		}
		if img.Config == nil || img.Config.Labels[TagLabel] != tag {
			t.Fatalf("image %s was not built by testenv.BuildImages; not removing it", tag)
		}
		// Force removes the tag even while a stopped container still uses the
		// image; the image itself then stays until that container is gone.
		if _, err := cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Fatalf("remove image %s: %v", tag, err)
		}
	}
}

// compile builds the test program static for the engine's architecture.
// -trimpath and -buildvcs=false make the binary, and so ContentLabel, depend
// on the source only: unrelated commits do not rebuild the images.
func compile(ctx context.Context, cli *client.Client) ([]byte, string, error) {
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("engine version: %w", err)
	}
	dir, err := os.MkdirTemp("", "berth-testimage-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "app")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, testimagePkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+v.Arch, "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("go build %s: %w\n%s", testimagePkg, err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, "", err
	}
	h := sha256.New()
	h.Write([]byte(recipe))
	h.Write(bin)
	return bin, hex.EncodeToString(h.Sum(nil)), nil
}

// ensureImage builds tag unless it already holds the current program.
func ensureImage(ctx context.Context, cli *client.Client, tag string) error {
	img, err := cli.ImageInspect(ctx, tag)
	switch {
	case cerrdefs.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("inspect image %s: %w", tag, err)
	case img.Config != nil && img.Config.Labels[ContentLabel] == program.sum && img.Config.Labels[TagLabel] == tag:
		return nil
	}
	buildCtx, err := contextTar(program.bin, dockerfile(tag))
	if err != nil {
		return err
	}
	res, err := cli.ImageBuild(ctx, buildCtx, client.ImageBuildOptions{
		Tags:    []string{tag},
		Version: build.BuilderV1, // BuildKit needs a session; API 1.41 engines have only this one anyway
		// The client sends rm=0 unless asked: the legacy builder would keep
		// every intermediate container.
		Remove:      true,
		ForceRemove: true,
	})
	if err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	defer res.Body.Close()
	if err := readBuildStream(res.Body); err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	return nil
}

// tagVersion returns the tag part of an image reference, "latest" if none.
func tagVersion(ref string) string {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return "latest"
	}
	return ref[i+1:]
}

// dockerfile is the recipe for tag. The legacy builder commits a layer per
// instruction (about a second each), so the steps every tag shares come first
// and are cached, and each tag adds only one LABEL and one ENV. Labels go here
// rather than in ImageBuildOptions.Labels, which adds a step per label.
func dockerfile(tag string) string {
	return fmt.Sprintf(recipe, ContentLabel, program.sum, TagLabel, tag, tagVersion(tag))
}

const recipe = "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\nLABEL %s=%q %s=%q\nENV VERSION=%s\n"

// contextTar is the build context: the program and its Dockerfile.
func contextTar(bin []byte, dockerfile string) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte(dockerfile)},
		{"app", 0o755, bin},
	} {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// readBuildStream reads the build's JSON messages to the end. A failed build
// still answers 200: the error comes as a message in the stream.
func readBuildStream(r io.Reader) error {
	var tail []string
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		err := dec.Decode(&msg)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read build output: %w", err)
		}
		if s := strings.TrimSpace(msg.Stream); s != "" {
			tail = append(tail[max(0, len(tail)-9):], s)
		}
		if msg.ErrorDetail != nil && msg.ErrorDetail.Message != "" {
			msg.Error = msg.ErrorDetail.Message
		}
		if msg.Error != "" {
			return fmt.Errorf("%s\n%s", msg.Error, strings.Join(tail, "\n"))
		}
	}
}
