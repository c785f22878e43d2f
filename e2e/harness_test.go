package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/e2e/testenv"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// berthBin is the berth binary under test, built once by TestMain.
var berthBin string

// childCPU is the CPU time, user and system, of the berth and docker
// compose commands run so far, in nanoseconds: benchmarks report it beside
// the wall time, which the engine's own work and the machine's other load
// take part in.
var childCPU atomic.Int64

func countCPU(cmd *exec.Cmd) {
	if ps := cmd.ProcessState; ps != nil {
		childCPU.Add(int64(ps.UserTime() + ps.SystemTime()))
	}
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	berthBin = filepath.Join(dir, "berth")
	flag.Parse()
	args := []string{"build", "-race", "-o", berthBin, "github.com/berth-gitops/berth/cmd/berth"}
	env := os.Environ()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		// Benchmarks time the binary users run, built as the Dockerfile
		// builds it.
		args = []string{"build", "-trimpath", "-ldflags=-s -w", "-o", berthBin, "github.com/berth-gitops/berth/cmd/berth"}
		env = append(env, "CGO_ENABLED=0")
	}
	build := exec.Command("go", args...)
	build.Env = env
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build berth:", err)
		os.Exit(2)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// stack is one scenario's stack folder, project and engine.
type stack struct {
	t       testing.TB
	cli     *client.Client
	dir     string
	project string
}

// newStack copies testdata/<TestName>/<sub> into a fresh folder and gives
// the project a unique name whose resources are removed after the test.
func newStack(t testing.TB, sub string) *stack {
	t.Helper()
	cli := testenv.Engine(t)
	testenv.BuildImages(t, cli, "berthtest/app:1.0", "berthtest/app:1.1")
	project := testenv.UniqueProject(t)
	testenv.Cleanup(t, cli, project)
	dir := filepath.Join(t.TempDir(), project)
	src := filepath.Join("testdata", strings.Split(t.Name(), "/")[0], sub)
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return &stack{t: t, cli: cli, dir: dir, project: project}
}

// berth runs the berth binary on the stack folder.
func (s *stack) berth(args ...string) (stdout, stderr string, code int) {
	s.t.Helper()
	args = append(args, "-p", s.project, s.dir)
	return runBerth(s.t, args...)
}

func runBerth(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBin, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	countCPU(cmd)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run berth %v: %v", args, err)
	}
	t.Logf("berth %s → exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return out.String(), errb.String(), code
}

// mustBerth runs berth and fails the test unless it exits with want.
func (s *stack) mustBerth(want int, args ...string) string {
	s.t.Helper()
	out, errOut, code := s.berth(args...)
	if code != want {
		s.t.Fatalf("berth %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, out, errOut)
	}
	return out
}

// write replaces a file of the stack folder.
func (s *stack) write(name, content string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, name), []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// edit replaces old with new in a file of the stack folder.
func (s *stack) edit(name, old, new string) {
	s.t.Helper()
	raw, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		s.t.Fatal(err)
	}
	if !strings.Contains(string(raw), old) {
		s.t.Fatalf("%s does not contain %q", name, old)
	}
	s.write(name, strings.Replace(string(raw), old, new, 1))
}

// ctr is a container as the tests compare it.
type ctr struct {
	ID, Name, Service, State, Image string
	Labels                          map[string]string
}

// containers lists the project's containers by name, straight from the engine.
func (s *stack) containers() map[string]ctr {
	s.t.Helper()
	res, err := s.cli.ContainerList(context.Background(), client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("label", compose.LabelProject+"="+s.project),
	})
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]ctr{}
	for _, c := range res.Items {
		name := strings.TrimPrefix(c.Names[0], "/")
		out[name] = ctr{ID: c.ID, Name: name, Service: c.Labels[compose.LabelService], State: string(c.State), Image: c.Image, Labels: c.Labels}
	}
	return out
}

// ids maps container names to IDs and states, for before/after comparisons.
func ids(cs map[string]ctr) string {
	var lines []string
	for name, c := range cs {
		lines = append(lines, fmt.Sprintf("%s=%s/%s", name, c.ID[:12], c.State))
	}
	sort.Strings(lines)
	return strings.Join(lines, " ")
}

// name is the compose name of a service's container n.
func (s *stack) name(service string, n int) string {
	return fmt.Sprintf("%s-%s-%d", s.project, service, n)
}

// exec runs a command in a container and returns its output.
func (s *stack) exec(container string, cmd ...string) string {
	s.t.Helper()
	ctx := context.Background()
	ex, err := s.cli.ExecCreate(ctx, container, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		s.t.Fatalf("exec %v in %s: %v", cmd, container, err)
	}
	att, err := s.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	defer att.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, att.Reader); err != nil && err != io.EOF {
		s.t.Fatal(err)
	}
	return out.String()
}

// composeCLI returns the docker compose v2 command line to compare with,
// or skips the comparison when the machine has none.
func composeCLI(t testing.TB) []string {
	t.Helper()
	if v := os.Getenv("BERTH_COMPOSE_CLI"); v != "" {
		return strings.Fields(v)
	}
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if _, err := os.Stat("/opt/berth-tools/docker-compose"); err == nil {
		return []string{"/opt/berth-tools/docker-compose"}
	}
	t.Skip("no docker compose v2 CLI: set BERTH_COMPOSE_CLI to compare with it")
	return nil
}

// compose runs the docker compose v2 CLI on the stack.
func (s *stack) compose(args ...string) string {
	s.t.Helper()
	cli := composeCLI(s.t)
	full := append(append(cli[1:], "-p", s.project, "--project-directory", s.dir), args...)
	cmd := exec.Command(cli[0], full...)
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	countCPU(cmd)
	if err != nil {
		s.t.Fatalf("%s %v: %v\n%s", cli[0], full, err, out)
	}
	return string(out)
}

// read returns a file of the stack folder.
func (s *stack) read(name string) string {
	s.t.Helper()
	raw, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		s.t.Fatal(err)
	}
	return string(raw)
}
