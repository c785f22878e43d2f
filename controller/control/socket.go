// Package control guards the ways into a running berth: the control socket
// (status, history and the actions, for root, berth's user and one group),
// the TCP listener (webhooks, health and metrics, for the host names it is
// configured for, never for a cross-site page), and the folders and files
// berth trusts, which no other user may change.
package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"
)

// maxSocketPath is the longest path a Unix socket can bind on Linux
// (sun_path is 108 bytes with its terminating zero).
const maxSocketPath = 107

// Socket is the control socket: a Unix socket owned by berth's user, mode
// 0600, or 0660 with the control group.
type Socket struct {
	net.Listener
	path string
	fi   fs.FileInfo
}

// Listen creates the control socket at path. gid is the group that may
// use it, or -1 for none. A socket left at path by an earlier berth is
// replaced; anything else there (a file, a folder, a symlink, another
// user's socket, a live socket) is refused, never followed or removed.
// The socket is made under a temporary name, given its mode and group,
// then renamed into place, so it never exists at path with wider access.
func Listen(path string, gid int) (*Socket, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket %s: the path is %d bytes, Unix sockets allow %d; set control.socket to a shorter path", path, len(path), maxSocketPath)
	}
	tmp := path + ".new"
	for _, p := range []string{path, tmp} {
		if err := removeStale(p); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	fail := func(err error) (*Socket, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	mode := fs.FileMode(0o600)
	if gid >= 0 {
		mode = 0o660
		if err := os.Lchown(tmp, -1, gid); err != nil {
			return fail(err)
		}
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return &Socket{Listener: ln, path: path, fi: fi}, nil
}

// Path is where the socket is.
func (s *Socket) Path() string { return s.path }

// Close stops listening and removes the socket, if it is still the one
// this berth made.
func (s *Socket) Close() error {
	err := s.Listener.Close()
	if fi, lerr := os.Lstat(s.path); lerr == nil && os.SameFile(fi, s.fi) {
		os.Remove(s.path)
	}
	return err
}

// removeStale removes path when it is a socket of berth's user that no
// process answers on: the one an earlier berth left behind.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("control socket %s: something else is there (%s); remove it or set control.socket", path, kind(fi))
	}
	if uid := ownerOf(fi); uid != os.Geteuid() {
		return fmt.Errorf("control socket %s: a socket of uid %d is there, not of berth's user (uid %d); remove it", path, uid, os.Geteuid())
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another process answers there; is another berth running?", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("control socket: %w", err)
	}
	return nil
}

// kind names what a file is, for errors.
func kind(fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a folder"
	case m.IsRegular():
		return "a file"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

// ownerOf is a file's uid, or -1 when the system does not say.
func ownerOf(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
