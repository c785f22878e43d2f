// Package testenv connects tests to the real Docker engine and prepares what
// berth's e2e scenarios run on: images of the test program (e2e/testimage),
// unique compose project names, and cleanup of everything a test started.
//
// Test images are tagged TagPrefix+"name:tag" (for example
// "berthtest/web:v1"), are built from scratch on the engine itself (no
// registry is needed or used), and are left in place after the tests so the
// next run reuses them; they are berth's own and can be removed at any time
// with `docker rmi $(docker images -q 'berthtest/*')`.
package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// ProjectLabel is the label docker compose (and berth) puts on every
// container, network and volume of a project.
const ProjectLabel = "com.docker.compose.project"

// Engine returns a client for the engine named by DOCKER_HOST (or the local
// socket) with the API version negotiated, closed when the test ends. Without
// an engine the test fails, or is skipped when BERTH_E2E=off.
func Engine(t testing.TB) *client.Client {
	t.Helper()
	cli, err := connect()
	if err != nil {
		if os.Getenv("BERTH_E2E") == "off" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func connect() (*client.Client, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("no Docker engine answers at DOCKER_HOST=%q; start one or set BERTH_E2E=off: %w", os.Getenv("DOCKER_HOST"), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("no Docker engine answers at %s; start one or set BERTH_E2E=off: %w", cli.DaemonHost(), err)
	}
	return cli, nil
}
