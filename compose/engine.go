package compose

import (
	"context"
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// MinAPIVersion is the oldest Docker Engine API berth works with (Docker 20.10).
const MinAPIVersion = "1.41"

var (
	_ = container.Config{}
	_ = mount.Mount{}
	_ = network.NetworkingConfig{}
)

// Connect opens a client to the engine named by DOCKER_HOST (or the local
// socket), negotiates the API version with a ping and refuses engines older
// than MinAPIVersion.
func Connect(ctx context.Context) (*client.Client, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	ping, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("no Docker engine answers at %s: %w", c.DaemonHost(), err)
	}
	if ping.APIVersion != "" && versionLess(ping.APIVersion, MinAPIVersion) {
		_ = c.Close()
		return nil, fmt.Errorf("the Docker engine at %s speaks API %s; berth needs API %s or newer (Docker 20.10+)", c.DaemonHost(), ping.APIVersion, MinAPIVersion)
	}
	return c, nil
}

// versionLess compares two "major.minor" API versions.
func versionLess(a, b string) bool {
	var amaj, amin, bmaj, bmin int
	_, _ = fmt.Sscanf(a, "%d.%d", &amaj, &amin)
	_, _ = fmt.Sscanf(b, "%d.%d", &bmaj, &bmin)
	return amaj < bmaj || (amaj == bmaj && amin < bmin)
}
