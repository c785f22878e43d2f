package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// UniqueProject returns a compose project name made from the test name and a
// random suffix, such as "testrollout-start_first-3fa9c1": lowercase,
// [a-z0-9_-] only, starting with a letter, short enough for container names.
func UniqueProject(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if len(name) > 40 {
		name = strings.TrimRight(name[:40], "-")
	}
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		name = "t" + name
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	return name + "-" + hex.EncodeToString(suffix)
}

// Cleanup removes, when the test ends, every container (forcibly, with its
// anonymous volumes), network and volume labelled
// com.docker.compose.project=project, and nothing else.
func Cleanup(t testing.TB, cli *client.Client, project string) {
	t.Helper()
	t.Cleanup(func() {
		// The test's context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, err := range removeProject(ctx, cli, project) {
			t.Errorf("cleanup of project %s: %v", project, err)
		}
	})
}

// removeProject removes the project's containers before its networks and
// volumes, which cannot go while a container uses them.
func removeProject(ctx context.Context, cli *client.Client, project string) []error {
	var errs []error
	filters := client.Filters{}.Add("label", ProjectLabel+"="+project)
	containers, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	errs = appendErr(errs, err)
	for _, c := range containers.Items {
		_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		errs = appendErr(errs, err)
	}
	networks, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filters})
	errs = appendErr(errs, err)
	for _, n := range networks.Items {
		_, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		errs = appendErr(errs, err)
	}
	volumes, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: filters})
	errs = appendErr(errs, err)
	for _, v := range volumes.Items {
		_, err := cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{})
		errs = appendErr(errs, err)
	}
	return errs
}

func appendErr(errs []error, err error) []error {
	if err != nil && !cerrdefs.IsNotFound(err) {
		return append(errs, err)
	}
	return errs
}
