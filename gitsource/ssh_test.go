package gitsource_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/gitsource/gittest"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestSSH(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	sshd := gittest.NewSSHServer(t, srv.Root)
	w := srv.NewWork("app")
	first := w.Commit("first")
	w.Push()
	auth := gitsource.Auth{SSHKeyFile: sshd.ClientKeyFile, KnownHostsFile: sshd.WriteKnownHosts(t)}

	t.Run("ok", func(t *testing.T) {
		r := open(t, gitsource.Options{URL: sshd.URL("app"), Auth: auth})
		if head(t, r) != first {
			t.Fatal("wrong head")
		}
		second := w.Commit("second")
		w.Push()
		if c := fetch(t, r); c.Hash != second {
			t.Fatalf("got %s, want %s", c.Hash, second)
		}
	})
	t.Run("unknown host key", func(t *testing.T) {
		a := auth
		a.KnownHostsFile = writeKnownHosts(t, "[127.0.0.1]:1 "+strings.SplitN(sshd.KnownHostsLine(), " ", 2)[1])
		_, err := gitsource.Open(context.Background(), gitsource.Options{URL: sshd.URL("app"), Dir: t.TempDir(), Auth: a})
		wantErr(t, err, "host key of ["+"127.0.0.1]", "is not in the known_hosts file "+a.KnownHostsFile)
		if !errors.Is(err, gitsource.ErrHostKey) {
			t.Fatalf("not ErrHostKey: %v", err)
		}
	})
	t.Run("changed host key", func(t *testing.T) {
		other := gittest.NewSSHServer(t, srv.Root) // another host key
		a := auth
		a.KnownHostsFile = writeKnownHosts(t, knownhosts.Line([]string{knownhosts.Normalize(sshd.Addr())}, other.HostKey))
		_, err := gitsource.Open(context.Background(), gitsource.Options{URL: sshd.URL("app"), Dir: t.TempDir(), Auth: a})
		wantErr(t, err, "does not match the key in the known_hosts file")
	})
	t.Run("missing known_hosts", func(t *testing.T) {
		a := auth
		a.KnownHostsFile = ""
		_, err := gitsource.Open(context.Background(), gitsource.Options{URL: sshd.URL("app"), Dir: t.TempDir(), Auth: a})
		wantErr(t, err, "needs a known_hosts file")
		a.KnownHostsFile = filepath.Join(t.TempDir(), "absent")
		_, err = gitsource.Open(context.Background(), gitsource.Options{URL: sshd.URL("app"), Dir: t.TempDir(), Auth: a})
		wantErr(t, err, "known_hosts file", "no such file")
	})
	t.Run("key not accepted", func(t *testing.T) {
		a := auth
		a.SSHKeyFile, _ = gittest.NewSSHKey(t)
		_, err := gitsource.Open(context.Background(), gitsource.Options{URL: sshd.URL("app"), Dir: t.TempDir(), Auth: a})
		wantErr(t, err, "authentication failed for "+sshd.URL("app"))
	})
}

func writeKnownHosts(t *testing.T, line string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(p, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
