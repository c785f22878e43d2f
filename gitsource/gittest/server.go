package gittest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ServerOptions configure a Server.
type ServerOptions struct {
	// User and Password, when User is set, are required as basic auth on
	// every request; others get 401 with WWW-Authenticate.
	User     string
	Password string
}

// Server serves the bare repositories under Root over smart HTTP with the
// real git http-backend. Pushes over HTTP work too (http.receivepack).
type Server struct {
	Root string

	t       testing.TB
	opts    ServerOptions
	backend string
	addr    string
	env     []string

	mu  sync.Mutex
	srv *http.Server

	inflight  sync.WaitGroup
	requests  atomic.Int64
	bytesSent atomic.Int64
}

// NewServer starts a server on 127.0.0.1 and closes it when the test ends.
func NewServer(t testing.TB, o ServerOptions) *Server {
	t.Helper()
	s := &Server{Root: t.TempDir(), t: t, opts: o}
	s.backend = filepath.Join(Git(t, "", "--exec-path"), "git-http-backend")
	h := home(t)
	s.env = []string{
		"HOME=" + h,
		"XDG_CONFIG_HOME=" + h,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_PROJECT_ROOT=" + s.Root,
		"GIT_HTTP_EXPORT_ALL=1",
		"GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=http.receivepack",
		"GIT_CONFIG_VALUE_0=true",
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Addr is host:port, the same across Stop and Start.
func (s *Server) Addr() string { return s.addr }

// URL is the http URL of a repository under Root, without credentials.
// The name gets a .git suffix when it has none.
func (s *Server) URL(repo string) string { return "http://" + s.addr + "/" + repoName(repo) }

func repoName(name string) string {
	name = strings.Trim(name, "/")
	if !strings.HasSuffix(name, ".git") {
		name += ".git"
	}
	return name
}

// NewBareRepo makes an empty bare repository under Root and returns its path.
func (s *Server) NewBareRepo(name string) string {
	s.t.Helper()
	p := filepath.Join(s.Root, filepath.FromSlash(repoName(name)))
	Git(s.t, "", "init", "-q", "--bare", p)
	return p
}

// NewWork makes the bare repository name under Root and a work tree whose
// origin is that repository on disk, so pushes skip HTTP.
func (s *Server) NewWork(name string) *Work {
	s.t.Helper()
	bare := s.NewBareRepo(name)
	return newWork(s.t, filepath.Join(s.t.TempDir(), "work"), bare)
}

// Stop takes the server down, dropping open connections.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Start brings a stopped server back on the same port.
func (s *Server) Start() {
	s.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("restart server on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// Close stops the server after letting requests in flight finish, so no
// git process still writes under Root when the test's directories go.
func (s *Server) Close() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
	}
	s.inflight.Wait() // handlers cut off by an earlier Stop
}

// Requests is how many HTTP requests the server has received.
func (s *Server) Requests() int64 { return s.requests.Load() }

// BytesSent is how many response body bytes the server has written.
func (s *Server) BytesSent() int64 { return s.bytesSent.Load() }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.inflight.Add(1)
	defer s.inflight.Done()
	s.requests.Add(1)
	if s.opts.User != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != s.opts.User || p != s.opts.Password {
			w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
	}
	h := &cgi.Handler{Path: s.backend, Root: "/", Dir: s.Root, Env: s.env, Stderr: io.Discard}
	h.ServeHTTP(&countingWriter{ResponseWriter: w, n: &s.bytesSent}, r)
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n.Add(int64(n))
	return n, err
}
