package control

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestListenMakesAPrivateSocket(t *testing.T) {
	for _, tc := range []struct {
		gid  int
		mode os.FileMode
	}{{-1, 0o600}, {os.Getegid(), 0o660}} {
		path := filepath.Join(t.TempDir(), "berth.sock")
		s, err := Listen(path, tc.gid)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != tc.mode || int(st.Uid) != os.Geteuid() {
			t.Fatalf("socket %v uid %d, want mode %04o uid %d", fi.Mode(), st.Uid, tc.mode, os.Geteuid())
		}
		if _, err := os.Lstat(path + ".new"); err == nil {
			t.Fatal("the temporary name is left behind")
		}
		s.Close()
		if _, err := os.Lstat(path); err == nil {
			t.Fatal("Close left the socket")
		}
	}
}

func TestListenReplacesOnlyItsOwnStaleSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "berth.sock")

	// A socket an earlier berth left behind (killed, nothing listens).
	old, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close()
	s, err := Listen(path, -1)
	if err != nil {
		t.Fatalf("a stale socket of berth's user should be replaced: %v", err)
	}

	// A live socket: another berth.
	if _, err := Listen(path, -1); err == nil || !strings.Contains(err.Error(), "another process answers") {
		t.Fatalf("a live socket must not be taken over: %v", err)
	}
	s.Close()

	// A symlink planted where the socket goes: refused, its target untouched.
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, -1); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("a symlink must be refused: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatal("the symlink's target changed")
	}
	os.Remove(path)

	// A plain file.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, -1); err == nil || !strings.Contains(err.Error(), "a file") {
		t.Fatalf("a file must be refused: %v", err)
	}
}

func TestListenRefusesAnotherUsersSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a socket another user owns")
	}
	path := filepath.Join(t.TempDir(), "berth.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if err := os.Lchown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, -1); err == nil || !strings.Contains(err.Error(), "uid 65534") {
		t.Fatalf("another user's socket must be refused: %v", err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatal("another user's socket was removed")
	}
}

func TestAccess(t *testing.T) {
	a := Access{UID: 998, GID: 4242}
	for _, tc := range []struct {
		p    Peer
		want bool
	}{
		{Peer{UID: 0, GID: 0}, true},
		{Peer{UID: 998, GID: 998}, true},
		{Peer{UID: 1000, GID: 4242}, true},
		{Peer{UID: 65534, GID: 65534}, false},
	} {
		if got := a.Allows(tc.p); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.p, got, tc.want)
		}
	}
	if (Access{UID: 998, GID: -1}).Allows(Peer{UID: 1000, GID: 4242}) {
		t.Error("without a control group only root and berth's user may")
	}
}

func TestServeKnowsThePeer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.sock")
	s, err := Listen(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	stop := Serve(s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PeerFrom(r.Context())
		io.WriteString(w, p.String())
	}), Access{UID: os.Geteuid(), GID: -1}, slog.New(slog.DiscardHandler))
	defer stop()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	res, err := c.Get("http://berth/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(body), "uid "+strconv.Itoa(os.Geteuid())) {
		t.Fatalf("%s: %s", res.Status, body)
	}
}

// TestServeWarnsWhenTheGroupCannotReachTheSocket: a socket in the data
// dir (0700) is out of the control group's reach; one in a folder the
// group may enter is not.
func TestServeWarnsWhenTheGroupCannotReachTheSocket(t *testing.T) {
	gid := 4242
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o700, true}, {0o750, false}} {
		dir := filepath.Join(t.TempDir(), "run")
		if err := os.Mkdir(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, -1, gid); err != nil {
			t.Skipf("cannot give the folder to group %d: %v", gid, err)
		}
		s, err := Listen(filepath.Join(dir, "berth.sock"), gid)
		if err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		Serve(s, http.NotFoundHandler(), Access{UID: os.Geteuid(), GID: gid}, slog.New(slog.NewTextHandler(&log, nil)))()
		if got := strings.Contains(log.String(), "cannot enter the socket's folder"); got != tc.warn {
			t.Errorf("folder mode %04o: warned %v, want %v\n%s", tc.mode, got, tc.warn, log.String())
		}
	}
}
