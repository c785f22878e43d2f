package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/e2e/testenv"
	"github.com/berth-gitops/berth/gitsource/gittest"
)

// infra is a scenario's infra repo on a real Git server (git http-backend
// with basic auth), with stack folders named uniquely for the test.
type infra struct {
	t      testing.TB
	cli    *client.Client
	srv    *gittest.Server
	work   *gittest.Work
	prefix string // makes stack (and project) names unique
}

const (
	gitUser     = "deployer"
	gitPassword = "s3cret-git-password-canary"
)

func newInfra(t *testing.T) *infra { return newInfraTB(t) }

func newInfraTB(t testing.TB) *infra {
	t.Helper()
	cli := testenv.Engine(t)
	testenv.BuildImages(t, cli, "berthtest/app:1.0", "berthtest/app:1.1")
	srv := gittest.NewServer(t, gittest.ServerOptions{User: gitUser, Password: gitPassword})
	work := srv.NewWork("infra")
	return &infra{t: t, cli: cli, srv: srv, work: work, prefix: testenv.UniqueProject(t)}
}

// stack is the stack folder name (and compose project) for short name.
func (in *infra) stack(name string) string { return in.prefix + "-" + name }

// write puts a file in a stack's folder of the work tree.
func (in *infra) write(stackName, file, content string) {
	in.work.Write("stacks/"+in.stack(stackName)+"/"+file, content)
}

// commit commits and pushes the work tree, returning the commit hash.
func (in *infra) commit(msg string) string {
	h := in.work.Commit(msg)
	in.work.Push()
	return h
}

// project is the engine view of one stack.
func (in *infra) project(name string) *stack {
	p := in.stack(name)
	testenv.Cleanup(in.t, in.cli, p)
	return &stack{t: in.t, cli: in.cli, project: p}
}

// berthRun is a running `berth run` process.
type berthRun struct {
	t       testing.TB
	args    []string
	dataDir string
	addr    string // the TCP listener: webhooks, health, metrics
	socket  string // the control socket: status, history, actions
	cmd     *exec.Cmd
	mu      sync.Mutex
	log     bytes.Buffer
	done    chan error
}

// startBerth starts `berth run` against the infra repo with a fresh data
// dir (or the one given again, for restarts), polling every second.
func (in *infra) startBerth(dataDir string, extra ...string) *berthRun {
	in.t.Helper()
	if dataDir == "" {
		dataDir = filepath.Join(in.t.TempDir(), "data")
	}
	pw := filepath.Join(in.t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(gitPassword+"\n"), 0o600); err != nil {
		in.t.Fatal(err)
	}
	args := []string{"run", "--repo", in.srv.URL("infra"), "--git-username", gitUser, "--git-password-file", pw,
		"--data-dir", dataDir, "--listen", freeAddr(in.t), "--poll", "1s", "--host", "host-a", "--log-format", "json", "--settle", "500ms"}
	args = append(args, extra...)
	return startBerthArgs(in.t, dataDir, args)
}

func startBerthArgs(t testing.TB, dataDir string, args []string) *berthRun {
	t.Helper()
	return startBerthBin(t, berthBin, nil, dataDir, args)
}

// startBerthBin starts bin (berthBin, or a build with other tags) with
// env added to the test's environment.
func startBerthBin(t testing.TB, bin string, env []string, dataDir string, args []string) *berthRun {
	t.Helper()
	r := &berthRun{t: t, args: args, dataDir: dataDir, socket: filepath.Join(dataDir, "berth.sock"), done: make(chan error, 1)}
	for i, a := range args {
		switch a {
		case "--listen":
			r.addr = args[i+1]
		case "--control-socket":
			r.socket = args[i+1]
		}
	}
	r.cmd = exec.Command(bin, args...)
	r.cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	r.cmd.Stdout, r.cmd.Stderr = r, r
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
			<-r.done
		}
		t.Logf("berth run log:\n%s", r.logs())
	})
	return r
}

func (r *berthRun) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.Write(p)
}

func (r *berthRun) logs() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.String()
}

// stop sends SIGTERM and wants exit 0 within 30 s.
func (r *berthRun) stop() {
	r.t.Helper()
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Fatalf("berth run after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		r.t.Fatal("berth run did not stop within 30 s of SIGTERM")
	}
}

// kill sends SIGKILL.
func (r *berthRun) kill() {
	r.cmd.Process.Kill()
	<-r.done
}

// status asks the running controller on its control socket.
func (r *berthRun) status() (controller.Status, error) {
	var st controller.Status
	res, err := unixClient(r.socket).Get("http://berth/status")
	if err != nil {
		return st, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /status on %s: %s", r.socket, res.Status)
	}
	return st, json.NewDecoder(res.Body).Decode(&st)
}

// unixClient sends every request to the Unix socket at path.
func unixClient(path string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true, // a client per call: no idle connection left open
	}}
}

// stackState is one stack's status, or the zero value.
func (r *berthRun) stackState(stack string) controller.StackStatus {
	st, _ := r.status()
	for _, s := range st.Stacks {
		if s.Stack == stack {
			return s
		}
	}
	return controller.StackStatus{}
}

// waitFor polls cond every 200 ms until it holds or timeout passes.
func (r *berthRun) waitFor(what string, timeout time.Duration, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			st, _ := r.status()
			js, _ := json.MarshalIndent(st, "", "  ")
			r.t.Fatalf("timed out after %s waiting for %s\nstatus: %s", timeout, what, js)
		}
		select {
		case err := <-r.done:
			r.done <- err
			r.t.Fatalf("berth run exited (%v) while waiting for %s", err, what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitApplied waits until the stack runs commit hash in sync.
func (r *berthRun) waitApplied(stack, hash string, timeout time.Duration) {
	r.t.Helper()
	r.waitFor(fmt.Sprintf("stack %s in sync at %s", stack, hash[:12]), timeout, func() bool {
		s := r.stackState(stack)
		return s.Applied == hash && s.State == controller.StateInSync
	})
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// volumeExists reports whether a named volume is on the engine.
func volumeExists(t *testing.T, cli *client.Client, name string) bool {
	t.Helper()
	res, err := cli.VolumeList(context.Background(), client.VolumeListOptions{Filters: make(client.Filters).Add("name", name)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range res.Items {
		if v.Name == name {
			return true
		}
	}
	return false
}

// removeVolume removes a volume at the end of the test.
func removeVolumeLater(t *testing.T, cli *client.Client, name string) {
	t.Cleanup(func() { cli.VolumeRemove(context.Background(), name, client.VolumeRemoveOptions{Force: true}) })
}

// logHas reports whether the JSON log has a line whose msg contains msg
// and whose other text contains every one of more.
func (r *berthRun) logHas(msg string, more ...string) bool {
	for _, line := range strings.Split(r.logs(), "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		ok := true
		for _, m := range more {
			ok = ok && strings.Contains(line, m)
		}
		if ok {
			return true
		}
	}
	return false
}

var _ = compose.LabelBerthCommit

// removeContainer removes a container by hand, as a person would.
func (s *stack) removeContainer(id string) {
	s.t.Helper()
	if _, err := s.cli.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true}); err != nil {
		s.t.Fatal(err)
	}
}
