package e2e

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller"
)

// TestTrustErrorsTransientFaultRetries: a fault of the host's data dir (the
// folder berth copies a stack's mounted files into is not a folder) puts
// the stack in "retrying" with the reason and the next try in the status,
// never "stalled", and the stack deploys by itself once the fault is gone.
// Before, the stack stalled and stayed behind until a new commit.
func TestTrustErrorsTransientFaultRetries(t *testing.T) {
	in := newInfra(t)
	blk := in.project("blk")
	dataDir := filepath.Join(t.TempDir(), "data")
	mounts := filepath.Join(dataDir, "mounts")
	if err := os.MkdirAll(mounts, 0o700); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(mounts, blk.project)
	if err := os.WriteFile(blocker, []byte("in the way\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in.write("blk", "compose.yaml", `services:
  web:
    image: berthtest/app:1.0
    restart: unless-stopped
    volumes:
      - ./app.ini:/etc/app.ini:ro
    x-berth:
      stability: 1s
`)
	in.write("blk", "app.ini", "level=one\n")
	c1 := in.commit("web reads app.ini")
	run := in.startBerth(dataDir)

	// Every status seen on the way must not be stalled.
	look := func() controller.StackStatus {
		s := run.stackState(blk.project)
		if s.State == controller.StateStalled {
			t.Fatalf("a fault of the data dir stalled the stack: %+v", s.StackState)
		}
		return s
	}
	var first time.Time
	run.waitFor("retrying after the export failed", 60*time.Second, func() bool {
		s := look()
		first = s.RetryAt
		return s.State == controller.StateRetrying && s.Attempted == c1 && s.Retry == "export failed" && !first.IsZero()
	})
	if s := look(); !strings.Contains(s.Error, "app.ini") || s.Applied != "" {
		t.Fatalf("retrying with %+v", s.StackState)
	}
	run.waitFor("a second try, still retrying", 30*time.Second, func() bool {
		s := look()
		return s.State == controller.StateRetrying && s.RetryAt.After(first)
	})
	out, _, code := runBerth(t, "status", "--socket", run.socket)
	if code != 0 || !strings.Contains(out, "retrying") || !strings.Contains(out, "export failed, next try in") {
		t.Fatalf("berth status (exit %d):\n%s", code, out)
	}

	t.Log("the fault goes away: the stack deploys by itself, with no new commit")
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	run.waitFor("in sync at "+c1[:12], 90*time.Second, func() bool {
		s := look()
		return s.Applied == c1 && s.State == controller.StateInSync
	})
	if n := count(run.history(blk.project), controller.OutcomeStalled, ""); n != 0 {
		t.Fatalf("history lists %d stalls", n)
	}
	if got := blk.exec(blk.containers()[blk.name("web", 1)].ID, "/app", "cat", "/etc/app.ini"); got != "level=one\n" {
		t.Fatalf("web reads %q", got)
	}
	if !run.logHas("stack retrying") {
		t.Fatal("the log does not say the stack is retrying")
	}
}

// engineProxy forwards a unix socket to the engine's, and can be cut off
// (every connection closed, the socket gone) and started again.
type engineProxy struct {
	t      *testing.T
	path   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newEngineProxy(t *testing.T) *engineProxy {
	target := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		target = strings.TrimPrefix(h, "unix://")
	} else if h != "" {
		t.Skipf("the engine at DOCKER_HOST=%s is not on a unix socket", h)
	}
	p := &engineProxy{t: t, path: filepath.Join(t.TempDir(), "engine.sock"), target: target}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *engineProxy) start() {
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// stop cuts berth off the engine: the socket is gone and every open
// connection closed.
func (p *engineProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestTrustErrorsEngineUnreachable: with the engine cut off, a new commit
// leaves the stack "retrying" with "engine unreachable", never stalled, and
// the commit deploys once the engine answers again.
func TestTrustErrorsEngineUnreachable(t *testing.T) {
	in := newInfra(t)
	eng := in.project("eng")
	proxy := newEngineProxy(t)
	t.Setenv("DOCKER_HOST", "unix://"+proxy.path)
	in.write("eng", "compose.yaml", "services:\n  web:\n    image: berthtest/app:1.0\n    restart: unless-stopped\n    x-berth:\n      stability: 1s\n")
	c1 := in.commit("web")
	run := in.startBerth("")
	run.waitApplied(eng.project, c1, 90*time.Second)

	proxy.stop()
	in.write("eng", "compose.yaml", "services:\n  web:\n    image: berthtest/app:1.1\n    restart: unless-stopped\n    x-berth:\n      stability: 1s\n")
	c2 := in.commit("web 1.1")
	look := func() controller.StackStatus {
		s := run.stackState(eng.project)
		if s.State == controller.StateStalled {
			t.Fatalf("the engine away stalled the stack: %+v", s.StackState)
		}
		return s
	}
	run.waitFor("retrying: engine unreachable", 60*time.Second, func() bool {
		s := look()
		return s.State == controller.StateRetrying && s.Attempted == c2 && s.Retry == "engine unreachable"
	})
	if s := look(); s.Applied != c1 {
		t.Fatalf("retrying with %+v", s.StackState)
	}

	t.Log("the engine answers again: c2 deploys with no new commit")
	proxy.start()
	run.waitFor("in sync at "+c2[:12], 90*time.Second, func() bool {
		s := look()
		return s.Applied == c2 && s.State == controller.StateInSync
	})
	if n := count(run.history(eng.project), controller.OutcomeStalled, ""); n != 0 {
		t.Fatalf("history lists %d stalls", n)
	}
	if img := eng.containers()[eng.name("web", 1)].Image; img != "berthtest/app:1.1" {
		t.Fatalf("web runs %s", img)
	}
}
