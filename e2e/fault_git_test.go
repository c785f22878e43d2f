package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller"
)

// gitFault is what the fault proxy does to each request.
type gitFault int

const (
	faultNone   gitFault = iota // pass the request to the Git server
	faultRefuse                 // nothing listens: connection refused
	faultStatus                 // answer with an HTTP error status
	faultHang                   // accept the request and never answer
	faultCut                    // close the connection without an answer
)

// faultProxy stands between berth and a real Git server and breaks the
// requests as told, so that each failure is a real one on the wire.
type faultProxy struct {
	t      testing.TB
	target string // the Git server's host:port
	addr   string // the proxy's host:port, the same across faults

	mu      sync.Mutex
	fault   gitFault
	status  int           // for faultStatus
	release chan struct{} // closed when a hang ends
	ln      net.Listener
	srv     *http.Server
	hanging atomic.Int64 // requests held by faultHang right now
}

func newFaultProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	p := &faultProxy{t: t, target: target, release: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.set(faultNone, 0)
		p.mu.Lock()
		srv := p.srv
		p.mu.Unlock()
		if srv != nil {
			srv.Close()
		}
	})
	return p
}

// URL is the repository's URL through the proxy.
func (p *faultProxy) URL(repo string) string { return "http://" + p.addr + "/" + repo + ".git" }

func (p *faultProxy) serve(ln net.Listener) {
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: p.target})
	srv := &http.Server{Handler: p.handler(rp), ReadHeaderTimeout: 10 * time.Second}
	p.mu.Lock()
	p.ln, p.srv = ln, srv
	p.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// set switches the fault. Leaving faultHang releases the held requests;
// faultRefuse closes the listener and leaving it listens again on the same
// port.
func (p *faultProxy) set(f gitFault, status int) {
	p.mu.Lock()
	old, srv := p.fault, p.srv
	p.fault, p.status = f, status
	if old == faultHang && f != faultHang {
		close(p.release)
		p.release = make(chan struct{})
	}
	if f == faultRefuse {
		p.srv = nil
	}
	p.mu.Unlock()
	switch {
	case f == faultRefuse && srv != nil:
		srv.Close()
	case old == faultRefuse && f != faultRefuse:
		var ln net.Listener
		var err error
		for range 50 { // the port may take a moment to be free again
			if ln, err = net.Listen("tcp", p.addr); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			p.t.Fatalf("listen again on %s: %v", p.addr, err)
		}
		p.serve(ln)
	}
}

func (p *faultProxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		f, status, release := p.fault, p.status, p.release
		p.mu.Unlock()
		switch f {
		case faultStatus:
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Basic realm="proxy"`)
			}
			http.Error(w, http.StatusText(status), status)
		case faultHang:
			p.hanging.Add(1)
			defer p.hanging.Add(-1)
			select {
			case <-r.Context().Done(): // berth gave up
			case <-release:
			}
		case faultCut:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// waitSourceFault waits until status shows a fetch error containing want
// for the second time in a row: the first failed cycle, which keeps the
// stacks equal to the last commit fetched, has then ended.
func (r *berthRun) waitSourceFault(want string, timeout time.Duration) controller.SourceStatus {
	r.t.Helper()
	var src controller.SourceStatus
	r.waitFor("a fetch error containing "+want, timeout, func() bool {
		st, err := r.status()
		if err != nil || st.Source == nil {
			return false
		}
		src = *st.Source
		return src.Failures >= 2 && strings.Contains(strings.ToLower(src.Error), strings.ToLower(want))
	})
	return src
}

// bump changes the stack's web version, so that its next deploy replaces
// web's container.
func bump(s string, n int) string {
	return strings.Replace(s, "restart: unless-stopped\n    healthcheck", "restart: unless-stopped\n    environment:\n      GEN: \""+
		strings.Repeat("x", n)+"\"\n    healthcheck", 1)
}

// TestFaultGitServer: a Git server that refuses connections, answers 500,
// cuts connections, hangs past the fetch timeout or refuses the
// credentials leaves the live stack as it is, says what is wrong in status
// and `berth status` (never showing the password), and once it is healthy
// again the commit pushed meanwhile deploys by itself.
func TestFaultGitServer(t *testing.T) {
	in := newInfra(t)
	proxy := newFaultProxy(t, in.srv.Addr())
	shop := in.project("shop")
	in.write("shop", "compose.yaml", shopCompose)
	head := in.commit("shop")
	run := in.startBerth("", "--repo", proxy.URL("infra"), "--fetch-timeout", "3s")
	run.waitApplied(shop.project, head, 90*time.Second)

	cases := []struct {
		name   string
		fault  gitFault
		status int
		want   string // in status, case-insensitive
	}{
		{"connection refused", faultRefuse, 0, "connection refused"},
		{"500", faultStatus, http.StatusInternalServerError, "500"},
		{"connection cut", faultCut, 0, "connection closed"},
		{"hang", faultHang, 0, "no answer within the fetch timeout (3s)"},
		{"bad credentials", faultStatus, http.StatusUnauthorized, "authentication failed"},
	}
	for i, c := range cases {
		t.Logf("fault: %s", c.name)
		before := ids(shop.containers())
		proxy.set(c.fault, c.status)
		in.write("shop", "compose.yaml", bump(shopCompose, i+1))
		next := in.commit("during " + c.name)
		src := run.waitSourceFault(c.want, 60*time.Second)
		if src.Head == nil || src.Head.Hash != head {
			t.Fatalf("%s: status head %+v, want the last fetched %.12s", c.name, src.Head, head)
		}
		if c.fault == faultHang {
			// Two fetches ended at the timeout; ask while the next one hangs.
			run.waitFor("a fetch held by the server", 30*time.Second, func() bool { return proxy.hanging.Load() > 0 })
		}
		// berth status answers (also while a fetch hangs) and names the fault.
		out, _, code := runBerth(t, "status", "--socket", run.socket)
		if code != 0 || !strings.Contains(strings.ToLower(out), strings.ToLower(c.want)) {
			t.Fatalf("%s: berth status exit %d, want the fault %q:\n%s", c.name, code, c.want, out)
		}
		if st, _ := run.status(); strings.Contains(out, gitPassword) || strings.Contains(fmt.Sprint(st), gitPassword) {
			t.Fatalf("%s: the Git password is in the status", c.name)
		}
		if s := run.stackState(shop.project); s.State != controller.StateInSync || s.Applied != head {
			t.Fatalf("%s: stack %+v, want in sync at %.12s", c.name, s, head)
		}
		if after := ids(shop.containers()); after != before {
			t.Fatalf("%s: the live stack changed during the fault:\nbefore %s\nafter  %s", c.name, before, after)
		}
		proxy.set(faultNone, 0)
		run.waitApplied(shop.project, next, 90*time.Second)
		if ids(shop.containers()) == before {
			t.Fatalf("%s: the commit pushed during the fault was not deployed", c.name)
		}
		head = next
	}

	out, _, _ := runBerth(t, "history", shop.project, "--socket", run.socket, "--json")
	run.stop()
	for where, text := range map[string]string{"log": run.logs(), "history": out} {
		if strings.Contains(text, gitPassword) {
			t.Fatalf("the Git password reached the %s", where)
		}
	}
	if n := strings.Count(run.logs(), "git source recovered"); n != len(cases) {
		t.Fatalf("recovery logged %d times, want once per fault (%d)", n, len(cases))
	}
}

// generation marks web's environment with n, so that a commit with another
// n replaces web's container and keeps the worker.
func generation(s string, n int) string {
	return strings.Replace(s, `VERSION: "1.0"`, fmt.Sprintf("VERSION: \"1.0\"\n      GEN: \"%d\"", n), 1)
}

// TestFaultGitHistoryRewritten: berth follows the branch's head whatever
// its history: a rewrite that drops the deployed commit, a force push of
// an unrelated history and a repository replaced by another one (another
// root) each deploy like any new commit, with a warning in the log. What
// the new head may ask for is the host policy's to decide, as for any
// commit. The rollback target stays the last state that deployed here,
// even when the branch no longer holds its commit.
func TestFaultGitHistoryRewritten(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", generation(gatedCompose, 0))
	root := in.commit("shop")
	run := in.startBerth("")
	run.waitApplied(shop.project, root, 90*time.Second)
	in.write("shop", "compose.yaml", generation(gatedCompose, 1))
	dropped := in.commit("generation 1")
	run.waitApplied(shop.project, dropped, 60*time.Second)

	t.Log("a rewrite that drops the deployed commit deploys the new head")
	in.work.ResetHard(root)
	in.write("shop", "compose.yaml", generation(gatedCompose, 2))
	rewritten := in.work.Commit("generation 2, rewritten")
	in.work.ForcePush()
	run.waitApplied(shop.project, rewritten, 60*time.Second)
	if !run.logHas("ref was rewritten (force-push)", dropped, rewritten) {
		t.Fatal("no warning naming both heads of the rewrite in the log")
	}

	t.Log("an unrelated history whose head fails verification rolls back to the rewritten commit")
	before := ids(shop.containers())
	in.work.Run("checkout", "-q", "--orphan", "unrelated")
	in.write("shop", "compose.yaml", badWeb(generation(gatedCompose, 2)))
	unrelated := in.work.Commit("unrelated history")
	in.work.Run("push", "-q", "-f", "origin", "HEAD:main")
	run.waitFor("rolled back to the commit the branch no longer holds", 90*time.Second, func() bool {
		s := run.stackState(shop.project)
		return s.State == controller.StateRolledBack && s.Failed == unrelated && s.Applied == rewritten && s.Good == rewritten
	})
	after := shop.containers()
	web := shop.name("web", 1)
	if after[web].Image != "berthtest/app:1.0" || after[web].State != "running" {
		t.Fatalf("the last good state is not back: %v (was %v)", ids(after), before)
	}

	t.Log("the repository replaced by another one (another root) deploys its head")
	if err := os.RemoveAll(filepath.Join(in.srv.Root, "infra.git")); err != nil {
		t.Fatal(err)
	}
	in.work = in.srv.NewWork("infra")
	in.write("shop", "compose.yaml", generation(gatedCompose, 3))
	replaced := in.commit("another repository")
	run.waitApplied(shop.project, replaced, 90*time.Second)
	if s := run.stackState(shop.project); s.Good != replaced || s.Failed != "" {
		t.Fatalf("after the replaced repository: %+v", s)
	}
	if !run.logHas("ref was rewritten (force-push)", unrelated, replaced) {
		t.Fatal("no warning for the replaced repository in the log")
	}
}
