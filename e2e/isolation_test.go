package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller"
)

const webCompose = `services:
  web:
    image: berthtest/app:1.0
    restart: unless-stopped
`

// slowCompose is a real input whose load takes minutes: each service
// extends one service of a 1 MB file, which compose-go reads and merges
// again for every one of them.
func slowCompose(in *infra, name string) {
	var big strings.Builder
	big.WriteString("services:\n  base:\n    image: berthtest/app:1.0\n    environment:\n")
	for i := 0; big.Len() < 990_000; i++ {
		fmt.Fprintf(&big, "      V%d: value-%d-xxxxxxxxxxxxxxxxxxxxxxxx\n", i, i)
	}
	in.write(name, "big.yaml", big.String())
	var c strings.Builder
	c.WriteString("services:\n")
	for i := range 8 {
		fmt.Fprintf(&c, "  s%d:\n    extends: {file: big.yaml, service: base}\n", i)
	}
	in.write(name, "compose.yaml", c.String())
}

// exports lists DATA/stacks/NAME/<tree> for every stack exported.
func exports(t *testing.T, dataDir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	stacks, err := os.ReadDir(filepath.Join(dataDir, "stacks"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stacks {
		trees, err := os.ReadDir(filepath.Join(dataDir, "stacks", s.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range trees {
			out[s.Name()] = append(out[s.Name()], tr.Name())
		}
		sort.Strings(out[s.Name()])
	}
	return out
}

// TestIsolationBadStacksStallAlone: a repo with a good stack and bad ones
// (an escaping symlink, a folder named with a newline, one with an escape,
// a load that overruns the budget) deploys the good one, stalls each bad
// one with a clear error and never fails a cycle; a stack meant for another
// host, escaping symlink and all, is never exported; a second head that
// changes one stack exports that stack alone.
func TestIsolationBadStacksStallAlone(t *testing.T) {
	in := newInfra(t)
	web := in.project("web")
	in.write("web", "compose.yaml", webCompose)
	in.write("evil", "compose.yaml", webCompose)
	in.work.Symlink("../../../../etc/passwd", "stacks/"+in.stack("evil")+"/passwd")
	in.write("bad\nname", "compose.yaml", webCompose)
	in.write("\x1b[31mred", "compose.yaml", webCompose)
	slowCompose(in, "slow")
	in.write("other", "compose.yaml", "x-berth: {hosts: [host-b]}\n"+webCompose)
	in.work.Symlink("/etc/passwd", "stacks/"+in.stack("other")+"/passwd")
	first := in.commit("a good stack and bad ones")

	run := in.startBerth("", "--load-timeout", "2s")
	run.waitApplied(web.project, first, 3*time.Minute)
	for _, tc := range []struct{ stack, want string }{
		{in.stack("evil"), "passwd -> ../../../../etc/passwd points outside the export"},
		{in.stack("bad\nname"), fmt.Sprintf("stack folder %q: a stack's name starts with a letter or digit", in.stack("bad\nname"))},
		{in.stack("\x1b[31mred"), fmt.Sprintf("stack folder %q: a stack's name", in.stack("\x1b[31mred"))},
		{in.stack("slow"), "load took longer than 2s"},
	} {
		s, ok := pollStalled(run, tc.stack, first, 2*time.Minute)
		if !ok {
			t.Errorf("%q did not stall: %s, error %q", tc.stack, s.State, s.Error)
			continue
		}
		if !strings.Contains(s.Error, tc.want) {
			t.Errorf("%q stalled with %q, want it to say %q", tc.stack, s.Error, tc.want)
		}
	}
	before := exports(t, run.dataDir)
	if _, ok := before[in.stack("other")]; ok {
		t.Errorf("the stack meant for another host was exported: %v", before[in.stack("other")])
	}
	if n := len(before[in.stack("web")]); n != 1 {
		t.Errorf("web has %d exports, want 1: %v", n, before)
	}

	// A second head changes web alone: web alone is exported again.
	in.write("web", "compose.yaml", strings.Replace(webCompose, "app:1.0", "app:1.1", 1))
	second := in.commit("web 1.1")
	run.waitApplied(web.project, second, 3*time.Minute)
	run.waitCycles(2)
	after := exports(t, run.dataDir)
	for name, trees := range after {
		if name == in.stack("web") {
			if len(trees) != 2 || !contains(trees, before[name][0]) {
				t.Errorf("web's exports = %v, want its first (%v) and one more", trees, before[name])
			}
			continue
		}
		if strings.Join(trees, ",") != strings.Join(before[name], ",") {
			t.Errorf("%s was exported again: %v, before %v", name, trees, before[name])
		}
	}

	st, err := run.status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Source.Error != "" || st.Source.Failures != 0 {
		t.Errorf("a cycle failed: %q (%d failures)", st.Source.Error, st.Source.Failures)
	}
	if s := run.stackState(web.project); s.State != controller.StateInSync || s.Applied != second {
		t.Errorf("web: %s at %.12s, want in sync at %.12s", s.State, s.Applied, second)
	}
	got := web.containers()
	for _, c := range got {
		if len(got) != 1 || !strings.HasSuffix(c.Image, "app:1.1") || c.State != "running" {
			t.Errorf("web's containers: %+v, want one running app:1.1", got)
		}
	}
	for _, line := range strings.Split(run.logs(), "\n") {
		if strings.Contains(line, "\x1b") {
			t.Errorf("a log line carries a raw escape: %q", line)
		}
	}
}

// TestIsolationStopDuringSlowLoad: SIGTERM while a stack's load is still
// running (it would take minutes) stops berth within the grace period.
func TestIsolationStopDuringSlowLoad(t *testing.T) {
	in := newInfra(t)
	slowCompose(in, "slow")
	head := in.commit("a stack that takes minutes to load")
	run := in.startBerth("", "--load-timeout", "10m")
	// The stack is exported just before it is loaded; the load is under way
	// once berth has spent 2 s of CPU since (an idle berth spends almost
	// none, the load minutes of it), well within its budget.
	var spent int
	run.waitFor("the slow stack's export", 2*time.Minute, func() bool {
		entries, _ := os.ReadDir(filepath.Join(run.dataDir, "stacks", in.stack("slow")))
		spent = cpuTicks(t, run.cmd.Process.Pid)
		return len(entries) > 0
	})
	run.waitFor("the load to spend 2 s of CPU", 2*time.Minute, func() bool {
		return cpuTicks(t, run.cmd.Process.Pid) >= spent+2*clockTicks
	})
	if s := run.stackState(in.stack("slow")); s.State != "" || s.Applied == head {
		t.Fatalf("the slow stack is already %s at %.12s: the load did not run", s.State, s.Applied)
	}
	start := time.Now()
	run.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-run.done:
		if err != nil {
			t.Fatalf("berth run after SIGTERM: %v", err)
		}
		t.Logf("berth exited %.1fs after SIGTERM", time.Since(start).Seconds())
	case <-time.After(15 * time.Second):
		t.Fatal("berth run did not stop within 15 s of SIGTERM while a load ran")
	}
}

// clockTicks is the kernel's USER_HZ: /proc counts CPU time in 1/100 s.
const clockTicks = 100

// cpuTicks is the CPU time (user and system) a process has spent, from
// /proc/PID/stat.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name (which may hold spaces) start at
	// the state; utime and stime are the 12th and 13th of them.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	var utime, stime int
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return utime + stime
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
