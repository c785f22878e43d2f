package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/controller"
)

// The steps of a rollout where berth can be stopped (see
// rollout/failpoint and docs/rollouts.md), in the order a deploy reaches
// them. retries says whether the rollout still needs the engine after the
// step: a cut engine then puts the stack in retrying. After remove-aside
// and record the new state already passed; what is left (removing the
// containers set aside) is done by the next cycle.
var faultSteps = []struct {
	step    string
	retries bool
}{
	{"pull", true},
	{"network", true},
	{"migrate", true},
	{"create", true},
	{"gate", true},
	{"drain", true},
	{"stop-old", true},
	{"remove-aside", false},
	{"record", false},
}

// TestFaultRolloutKilled: for each step, berth run is SIGKILLed there by a
// failpoint while it deploys a new commit, then started again without it.
// It converges to the new commit: one container per replica under its own
// name, the migration run, nothing set aside or orphaned, the volume's
// marker intact, and the stack in sync in status, never rolled back.
func TestFaultRolloutKilled(t *testing.T) {
	f := newFaultStack(t, "")
	for _, c := range faultSteps {
		t.Run(c.step, func(t *testing.T) {
			run := f.start(t, "BERTH_FAILPOINT="+c.step+":kill")
			hash := f.push()
			select {
			case err := <-run.done:
				run.done <- err
				if ws, ok := run.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("berth run ended with %v, want killed by the failpoint at %s", err, c.step)
				}
			case <-time.After(2 * time.Minute):
				t.Fatalf("berth run did not reach step %s", c.step)
			}
			if !strings.Contains(run.logs(), "failpoint "+c.step+": kill") {
				t.Fatalf("berth run died, but not at the failpoint %s", c.step)
			}
			run = f.start(t)
			run.waitApplied(f.stack, hash, 2*time.Minute)
			f.check(t, run, hash)
			run.stop()
		})
	}
}

// TestFaultRolloutEngineCut: for each step, berth run is held there by a
// failpoint while it deploys a new commit, the engine is cut off (every
// connection closed, the socket gone) and berth let go. berth retries the
// same commit (status: retrying, engine unreachable) and deploys it once
// the engine is back; the stack is never failed, stalled or rolled back,
// and no container is duplicated or left over.
func TestFaultRolloutEngineCut(t *testing.T) {
	proxy := newEngineProxy(t)
	f := newFaultStack(t, "unix://"+proxy.path)
	for _, c := range faultSteps {
		t.Run(c.step, func(t *testing.T) {
			release := filepath.Join(t.TempDir(), "release")
			run := f.start(t, "BERTH_FAILPOINT="+c.step+":pause", "BERTH_FAILPOINT_FILE="+release)
			hash := f.push()
			run.waitFor("the failpoint "+c.step, 2*time.Minute, func() bool {
				_, err := os.Stat(release + ".paused")
				return err == nil
			})
			proxy.stop()
			if err := os.WriteFile(release, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if c.retries {
				run.waitFor("berth status: retrying, engine unreachable", time.Minute, func() bool {
					notGivenUp(t, run.stackState(f.stack))
					out, _, _ := runBerth(t, "status", "--socket", run.socket)
					return strings.Contains(out, "retrying") && strings.Contains(out, "engine unreachable, next try in")
				})
			} else {
				// The deploy ends without the engine; the cycles after it
				// find the engine gone and the stack neither failed nor
				// stalled.
				run.waitApplied(f.stack, hash, time.Minute)
				run.waitCycles(2)
				if s := run.stackState(f.stack); s.State != controller.StateInSync {
					t.Fatalf("with the engine cut after the deploy: state %q (%s), want in sync", s.State, s.Error)
				}
			}
			proxy.start()
			run.waitFor("in sync at "+hash[:12], 2*time.Minute, func() bool {
				s := run.stackState(f.stack)
				notGivenUp(t, s)
				return s.State == controller.StateInSync && s.Applied == hash
			})
			f.check(t, run, hash)
			run.stop()
		})
	}
}

// notGivenUp fails the test when a fault that passes made berth give the
// commit up.
func notGivenUp(t *testing.T, s controller.StackStatus) {
	t.Helper()
	switch s.State {
	case controller.StateFailed, controller.StateStalled, controller.StateRolledBack:
		t.Fatalf("the engine cut off left the stack %s: %s", s.State, s.Error)
	}
}

// faultStack is the stack both fault tests deploy commit after commit: a
// migration, a start-first service of two replicas that appends a line to
// a file in a named volume at each start, and the volume.
type faultStack struct {
	in      *infra
	stack   string
	eng     *stack
	dataDir string
	host    string // DOCKER_HOST for berth, or "" for the test's own
	rev     int
	marker  string // the volume file's first line, written by the first deploy
}

func newFaultStack(t *testing.T, dockerHost string) *faultStack {
	in := newInfra(t)
	f := &faultStack{in: in, stack: in.stack("app"), eng: in.project("app"), dataDir: filepath.Join(t.TempDir(), "data"), host: dockerHost}
	removeVolumeLater(t, in.cli, f.stack+"_data")
	run := f.start(t)
	hash := f.push()
	run.waitApplied(f.stack, hash, 2*time.Minute)
	f.marker = strings.SplitN(f.eng.exec(f.eng.name("web", 1), "/app", "cat", "/data/marker"), "\n", 2)[0]
	if f.marker == "" {
		t.Fatal("the first deploy wrote no marker in the volume")
	}
	run.stop()
	return f
}

// start starts berth run, built with failpoints, on the stack's data dir.
func (f *faultStack) start(t *testing.T, env ...string) *berthRun {
	t.Helper()
	if f.host != "" {
		env = append(env, "DOCKER_HOST="+f.host)
	}
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(gitPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--repo", f.in.srv.URL("infra"), "--git-username", gitUser, "--git-password-file", pw,
		"--data-dir", f.dataDir, "--listen", freeAddr(t), "--poll", "1s", "--host", "host-a", "--log-format", "json", "--settle", "500ms"}
	return startBerthBin(t, failpointBin(t), env, f.dataDir, args)
}

// push commits the next revision: the migration and the service change.
func (f *faultStack) push() string {
	f.rev++
	f.in.write("app", "compose.yaml", fmt.Sprintf(`services:
  migrate:
    image: berthtest/app:1.0
    command: ["exit", "0"]
    environment: {REV: "%[1]d"}
    x-berth: {role: migrate}
  web:
    image: berthtest/app:1.0
    environment: {REV: "%[1]d", WRITE_FILE: /data/marker}
    volumes: [data:/data]
    depends_on:
      migrate: {condition: service_completed_successfully}
    deploy: {replicas: 2}
    x-berth: {update: start-first, stability: 500ms, drain: 300ms}
volumes:
  data: {}
`, f.rev))
	return f.in.commit(fmt.Sprintf("app: revision %d", f.rev))
}

// check wants the stack converged to hash: its three containers under their
// own names, each of the commit (the migration exited 0, the replicas
// running), none set aside or left over, the marker in the volume, status
// in sync, and history with the commit deployed and nothing stalled or
// rolled back.
func (f *faultStack) check(t *testing.T, run *berthRun, hash string) {
	t.Helper()
	want := map[string]string{f.eng.name("migrate", 1): "exited", f.eng.name("web", 1): "running", f.eng.name("web", 2): "running"}
	var got map[string]ctr
	run.waitFor("the containers of "+hash[:12]+" alone", time.Minute, func() bool {
		got = f.eng.containers()
		if len(got) != len(want) {
			return false
		}
		for name, state := range want {
			c, ok := got[name]
			if !ok || c.State != state || c.Labels[compose.LabelBerthCommit] != hash {
				return false
			}
		}
		return true
	})
	if !volumeExists(t, f.in.cli, f.stack+"_data") {
		t.Fatalf("volume %s_data is gone", f.stack)
	}
	if first := strings.SplitN(f.eng.exec(f.eng.name("web", 1), "/app", "cat", "/data/marker"), "\n", 2)[0]; first != f.marker {
		t.Errorf("the volume's marker starts with %q, want %q", first, f.marker)
	}
	s := run.stackState(f.stack)
	if s.State != controller.StateInSync || s.Applied != hash || s.Failed != "" || s.Halted {
		t.Errorf("status: state %q applied %.12s failed %.12s halted %v, want in sync at %.12s", s.State, s.Applied, s.Failed, s.Halted, hash)
	}
	recorded := false
	for _, d := range run.history(f.stack) {
		recorded = recorded || d.Commit == hash && d.Outcome == controller.OutcomeSucceeded
		if d.Outcome == controller.OutcomeRolledBack || d.Outcome == controller.OutcomeStalled {
			t.Errorf("history: %.12s %s: %s", d.Commit, d.Outcome, d.Error)
		}
	}
	if !recorded {
		t.Errorf("history has no successful deploy of %.12s", hash)
	}
}

// failpointBin builds berth with the failpoints tag, once, beside berthBin.
func failpointBin(t testing.TB) string {
	t.Helper()
	fpBuild.Do(func() {
		fpBuild.path = berthBin + "-failpoints"
		out, err := exec.Command("go", "build", "-race", "-tags", "failpoints", "-o", fpBuild.path, "github.com/berth-gitops/berth/cmd/berth").CombinedOutput()
		if err != nil {
			fpBuild.err = fmt.Errorf("build berth -tags failpoints: %v\n%s", err, out)
		}
	})
	if fpBuild.err != nil {
		t.Fatal(fpBuild.err)
	}
	return fpBuild.path
}

var fpBuild struct {
	sync.Once
	path string
	err  error
}
