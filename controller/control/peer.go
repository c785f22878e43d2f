package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Peer is the process on the other end of a control socket connection,
// as the kernel reports it (SO_PEERCRED): it cannot be forged by the
// client.
type Peer struct {
	UID, GID uint32
	PID      int32
}

// String names the peer for the log: "alice (uid 1000)".
func (p Peer) String() string {
	if u, err := user.LookupId(strconv.FormatUint(uint64(p.UID), 10)); err == nil {
		return fmt.Sprintf("%s (uid %d)", u.Username, p.UID)
	}
	return fmt.Sprintf("uid %d", p.UID)
}

// Access says who may use the control socket: root, berth's own user, and
// the members of one group.
type Access struct {
	UID int // berth's user
	GID int // the control group, or -1
}

// Allows reports whether the peer may use the socket. The socket's mode
// already keeps everyone else out; this holds even if it is loosened.
func (a Access) Allows(p Peer) bool {
	switch {
	case p.UID == 0 || int(p.UID) == a.UID:
		return true
	case a.GID < 0:
		return false
	case int(p.GID) == a.GID:
		return true
	}
	for _, g := range peerGroups(p) {
		if g == a.GID {
			return true
		}
	}
	return false
}

// peerGroups are the peer's supplementary groups: the process's own
// (/proc/PID/status), or its user's from the group database when the
// process is out of sight (another PID namespace).
func peerGroups(p Peer) []int {
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID)); err == nil && p.PID > 0 {
		for _, line := range strings.Split(string(raw), "\n") {
			if rest, ok := strings.CutPrefix(line, "Groups:"); ok {
				return atois(strings.Fields(rest))
			}
		}
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(p.UID), 10))
	if err != nil {
		return nil
	}
	ids, _ := u.GroupIds()
	return atois(ids)
}

func atois(ss []string) []int {
	var out []int
	for _, s := range ss {
		if n, err := strconv.Atoi(s); err == nil {
			out = append(out, n)
		}
	}
	return out
}

type peerKey struct{}

// PeerFrom is the control socket peer that sent a request.
func PeerFrom(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}

// Serve serves h on the control socket to the peers a allows, until stop
// is called. Others get 403 and a warning in the log.
func Serve(s *Socket, h http.Handler, a Access, log *slog.Logger) (stop func()) {
	srv := &http.Server{
		Handler:           guardPeer(h, a, log),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if p, err := peerOf(c); err == nil {
				return context.WithValue(ctx, peerKey{}, p)
			}
			return ctx
		},
	}
	go func() {
		if err := srv.Serve(s); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.Error("control socket", "error", err)
		}
	}()
	log.Info("control socket listening", "path", s.Path())
	if a.GID >= 0 && !groupCanEnter(filepath.Dir(s.Path()), a.GID) {
		log.Warn("control.group is set, but its members cannot enter the socket's folder: give the socket a folder of its own (control.socket) that the group may enter",
			"folder", filepath.Dir(s.Path()))
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		s.Close()
	}
}

// groupCanEnter reports whether members of gid may pass through dir.
func groupCanEnter(dir string, gid int) bool {
	fi, err := os.Stat(dir)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return fi.Mode()&0o001 != 0 || (ok && int(st.Gid) == gid && fi.Mode()&0o010 != 0)
}

func guardPeer(h http.Handler, a Access, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := PeerFrom(r.Context())
		if !ok || !a.Allows(p) {
			who := "an unknown peer"
			if ok {
				who = p.String()
			}
			log.Warn("control socket: refused", "peer", who, "method", r.Method, "path", r.URL.Path)
			http.Error(w, who+" may not use berth's control socket: it is for root, berth's user and the control group", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
