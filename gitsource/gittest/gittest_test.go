package gittest_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/gitsource/gittest"
)

// The git CLI itself can push to and clone from the HTTP server, with basic
// auth, across a restart on the same port.
func TestServerWithGitCLI(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{User: "u", Password: "p"})
	srv.NewBareRepo("app")
	w := gittest.NewRepo(t)
	c := w.Commit("first")
	authURL := strings.Replace(srv.URL("app"), "http://", "http://u:p@", 1)
	w.Run("push", "-q", authURL, "HEAD:refs/heads/main")

	srv.Stop()
	srv.Start()
	clone := t.TempDir()
	gittest.Git(t, "", "clone", "-q", authURL, clone)
	if got := gittest.Git(t, clone, "rev-parse", "HEAD"); got != c {
		t.Fatalf("clone has %s, want %s", got, c)
	}
	if srv.Requests() == 0 || srv.BytesSent() == 0 {
		t.Fatal("server counted nothing")
	}
}

func TestFastImport(t *testing.T) {
	t.Parallel()
	w := gittest.NewRepo(t)
	w.Commit("root")
	head := w.FastImport(500)
	if n := w.Run("rev-list", "--count", head); n != "501" {
		t.Fatalf("%s commits", n)
	}
	w.Write("more", "x")
	w.Commit("after import")
	w.Push()
}

// OpenSSH and the git CLI can clone from the SSH server, with strict host
// key checking against the known_hosts line it gives.
func TestSSHServerWithOpenSSH(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("no ssh client")
	}
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	sshd := gittest.NewSSHServer(t, srv.Root)
	w := srv.NewWork("app")
	c := w.Commit("first")
	w.Push()
	sshCmd := fmt.Sprintf("ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s -i %s",
		sshd.WriteKnownHosts(t), sshd.ClientKeyFile)
	clone := t.TempDir()
	gittest.Git(t, "", "-c", "core.sshCommand="+sshCmd, "clone", "-q", sshd.URL("app"), clone)
	if got := gittest.Git(t, clone, "rev-parse", "HEAD"); got != c {
		t.Fatalf("clone has %s, want %s", got, c)
	}
}
