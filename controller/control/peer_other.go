//go:build !linux

package control

import (
	"errors"
	"net"
)

// peerOf is only known on Linux; elsewhere every peer is refused, so the
// control socket is for Linux hosts.
func peerOf(net.Conn) (Peer, error) {
	return Peer{}, errors.New("peer credentials are only read on Linux")
}
