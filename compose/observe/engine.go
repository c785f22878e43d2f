package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"

	"github.com/berth-gitops/berth/compose"
	"github.com/moby/moby/client"
)

// MinAPIVersion is the oldest Docker Engine API berth works with (Docker 20.10).
const MinAPIVersion = "1.41"

// Connect opens a client to the engine named by DOCKER_HOST (or the local
// socket), negotiates the API version with a ping and refuses engines older
// than MinAPIVersion.
func Connect(ctx context.Context) (*client.Client, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	if err := checkEngine(ctx, c); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// checkEngine pings the engine. An engine that answers with an old API
// version is told apart from one that does not answer: the client library
// refuses versions below its own minimum with an error of its own.
func checkEngine(ctx context.Context, c *client.Client) error {
	ping, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	switch {
	case ping.APIVersion != "" && compose.VersionLess(ping.APIVersion, MinAPIVersion):
		return fmt.Errorf("the Docker engine at %s speaks API %s; berth needs API %s or newer (Docker 20.10+)", c.DaemonHost(), ping.APIVersion, MinAPIVersion)
	case err != nil:
		return fmt.Errorf("no Docker engine answers at %s: %w", c.DaemonHost(), err)
	case ping.APIVersion == "":
		return fmt.Errorf("the Docker engine at %s did not say which API version it speaks; berth needs API %s or newer (Docker 20.10+)", c.DaemonHost(), MinAPIVersion)
	}
	return nil
}

// Unreachable reports whether err says berth could not talk to the engine
// at all, as opposed to the engine answering with an error: the client
// found no engine to connect to, or the connection broke before an answer
// came (a daemon that died or restarts mid-request). Such an error says
// nothing about the request or the stack: it passes when the engine is
// back.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	if client.IsErrConnectionFailed(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var op *net.OpError
	var ue *url.Error
	return errors.As(err, &op) || errors.As(err, &ue)
}
