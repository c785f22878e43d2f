package gittest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer serves the bare repositories under Root over SSH: it accepts
// one client key and runs the real git-upload-pack (or git-receive-pack)
// for "git-upload-pack '/repo.git'" exec requests.
type SSHServer struct {
	Root string
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey
	// ClientKeyFile is the private key (OpenSSH format, mode 0600) the
	// server accepts.
	ClientKeyFile string

	env       []string
	clientKey ssh.PublicKey
	config    *ssh.ServerConfig
	ln        net.Listener
	addr      string

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// NewSSHServer starts an SSH server on 127.0.0.1 for the repositories under
// root (a Server's Root works) and closes it when the test ends.
func NewSSHServer(t testing.TB, root string) *SSHServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, clientKey := NewSSHKey(t)
	s := &SSHServer{Root: root, HostKey: signer.PublicKey(), ClientKeyFile: keyFile,
		env: Env(home(t)), clientKey: clientKey, conns: map[net.Conn]bool{}}
	s.config = &ssh.ServerConfig{PublicKeyCallback: s.checkKey}
	s.config.AddHostKey(signer)
	if s.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	s.addr = s.ln.Addr().String()
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// NewSSHKey writes a new ed25519 private key (OpenSSH format, mode 0600)
// into a temporary directory and returns its path and public key.
func NewSSHKey(t testing.TB) (file string, pub ssh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return file, signer.PublicKey()
}

// Addr is host:port.
func (s *SSHServer) Addr() string { return s.addr }

// URL is ssh://git@127.0.0.1:PORT/repo.git.
func (s *SSHServer) URL(repo string) string { return "ssh://git@" + s.addr + "/" + repoName(repo) }

// KnownHostsLine is the known_hosts line for this server:
// "[127.0.0.1]:PORT ssh-ed25519 AAAA...".
func (s *SSHServer) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.addr)}, s.HostKey)
}

// WriteKnownHosts writes a known_hosts file holding KnownHostsLine and
// returns its path.
func (s *SSHServer) WriteKnownHosts(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(p, []byte(s.KnownHostsLine()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *SSHServer) checkKey(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if bytes.Equal(key.Marshal(), s.clientKey.Marshal()) {
		return &ssh.Permissions{}, nil
	}
	return nil, errors.New("unknown public key")
}

// Close stops accepting, drops open connections and waits for the git
// processes to end.
func (s *SSHServer) Close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *SSHServer) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[conn] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(conn)
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
		}()
	}
}

func (s *SSHServer) serveConn(conn net.Conn) {
	defer conn.Close()
	sc, chans, reqs, err := ssh.NewServerConn(conn, s.config)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.session(ch, chReqs)
		}()
	}
	wg.Wait()
}

// session waits for an exec request, runs it and reports its exit status.
func (s *SSHServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var gitProtocol string
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) == nil && kv.Name == "GIT_PROTOCOL" {
				gitProtocol = kv.Value
			}
			_ = req.Reply(true, nil)
		case "exec":
			var p struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			code := s.run(ch, p.Command, gitProtocol)
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{code}))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

func (s *SSHServer) run(ch ssh.Channel, command, gitProtocol string) uint32 {
	verb, arg, _ := strings.Cut(command, " ")
	if verb != "git-upload-pack" && verb != "git-receive-pack" {
		_, _ = io.WriteString(ch.Stderr(), "only git-upload-pack and git-receive-pack are served\n")
		return 127
	}
	rel := strings.Trim(arg, `'"`)
	dir := filepath.Join(s.Root, filepath.Clean("/"+rel))
	cmd := exec.Command("git", strings.TrimPrefix(verb, "git-"), dir)
	cmd.Env = append([]string{}, s.env...)
	if gitProtocol != "" {
		cmd.Env = append(cmd.Env, "GIT_PROTOCOL="+gitProtocol)
	}
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 1
	}
	if err := cmd.Start(); err != nil {
		_, _ = io.WriteString(ch.Stderr(), err.Error()+"\n")
		return 127
	}
	// Not cmd.Stdin = ch: Wait would then wait for the client to close its
	// side, which it only does after seeing the exit status.
	go func() {
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close()
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return uint32(exit.ExitCode())
	}
	if err != nil {
		return 1
	}
	return 0
}
