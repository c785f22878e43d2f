package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/store"
)

// waitExit waits for berth run to exit by itself and returns its exit code.
func (r *berthRun) waitExit(timeout time.Duration) int {
	r.t.Helper()
	select {
	case err := <-r.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			r.t.Fatalf("berth run: %v", err)
		}
		return 0
	case <-time.After(timeout):
		r.t.Fatalf("berth run did not exit within %s", timeout)
		return -1
	}
}

// TestFaultStateDamaged: a state file cut short stops berth at start with
// an error naming the file and the recovery; after the documented recovery
// (move the file aside) berth comes up, finds the running stack in sync at
// the branch head and keeps its containers, and the history starts empty.
func TestFaultStateDamaged(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", shopCompose)
	head := in.commit("shop")
	run := in.startBerth("")
	run.waitApplied(shop.project, head, 90*time.Second)
	run.stop()
	before := ids(shop.containers())

	db := filepath.Join(run.dataDir, "berth.db")
	// Cut short inside the freelist page, as a crash of the file system
	// could leave it (bbolt itself panics on this file).
	if err := os.Truncate(db, 9000); err != nil {
		t.Fatal(err)
	}
	damaged := startBerthArgs(t, run.dataDir, run.args)
	if code := damaged.waitExit(60 * time.Second); code != 2 {
		t.Fatalf("berth run on a damaged state file: exit %d, want 2\n%s", code, damaged.logs())
	}
	for _, want := range []string{"state file " + db + " is damaged", "mv " + db + " " + db + ".damaged", "docs/recovery.md"} {
		if !strings.Contains(damaged.logs(), want) {
			t.Fatalf("the error does not say %q:\n%s", want, damaged.logs())
		}
	}
	if after := ids(shop.containers()); after != before {
		t.Fatalf("the live stack changed:\nbefore %s\nafter  %s", before, after)
	}

	// The recovery of docs/recovery.md.
	if err := os.Rename(db, db+".damaged"); err != nil {
		t.Fatal(err)
	}
	again := startBerthArgs(t, run.dataDir, run.args)
	again.waitApplied(shop.project, head, 90*time.Second)
	again.waitCycles(2)
	if after := ids(shop.containers()); after != before {
		t.Fatalf("the recovery replaced containers:\nbefore %s\nafter  %s", before, after)
	}
	if h := again.history(shop.project); len(h) != 0 {
		t.Fatalf("history after the recovery: %+v, want empty (nothing deployed)", h)
	}
	if s := again.stackState(shop.project); s.Good != head {
		t.Fatalf("stack %+v, want the running commit %.12s as the last good one", s, head)
	}
	again.stop()
}

// TestFaultDiskFull: with berth's data dir on a full disk, a new commit
// leaves the live stack and the state file as they were and status says
// the disk is full (retrying, never stalled); once space is back the
// commit deploys by itself.
func TestFaultDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs as the data dir (mount -t tmpfs)")
	}
	in := newInfra(t)
	shop := in.project("shop")
	dataDir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", dataDir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v\n%s", dataDir, err, out)
	}
	t.Cleanup(func() { // after berth's own cleanup has stopped it
		if out, err := exec.Command("umount", dataDir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dataDir, err, out)
		}
	})

	in.write("shop", "compose.yaml", shopCompose)
	head := in.commit("shop")
	run := in.startBerth(dataDir)
	run.waitApplied(shop.project, head, 90*time.Second)
	before := ids(shop.containers())

	filler := filepath.Join(dataDir, "filler")
	fill(t, filler)
	in.write("shop", "compose.yaml", bump(shopCompose, 1)+strings.Repeat("# padding\n", 2000))
	next := in.commit("while the disk is full")
	var why string
	run.waitFor("a disk full fault in status", 60*time.Second, func() bool {
		st, err := run.status()
		if err != nil {
			return false
		}
		if st.Source != nil && st.Source.Failures >= 2 && strings.Contains(st.Source.Error, "disk full") {
			why = st.Source.Error
			return true
		}
		for _, s := range st.Stacks {
			if s.Stack == shop.project && s.State == controller.StateRetrying && strings.Contains(s.Retry, "disk full") {
				why = s.Retry + ": " + s.Error
				return true
			}
		}
		return false
	})
	t.Logf("status while the disk is full: %s", why)
	run.waitCycles(1)
	if s := run.stackState(shop.project); s.State == controller.StateStalled || s.Applied != head {
		t.Fatalf("stack %+v, want it retrying or in sync at %.12s, never stalled", s, head)
	}
	if after := ids(shop.containers()); after != before {
		t.Fatalf("the live stack changed while the disk was full:\nbefore %s\nafter  %s", before, after)
	}
	if out, _, code := runBerth(t, "status", "--socket", run.socket); code != 0 || !strings.Contains(out, "disk full") {
		t.Fatalf("berth status exit %d, want it to say the disk is full:\n%s", code, out)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	run.waitApplied(shop.project, next, 90*time.Second)
	run.stop()
	if leftovers := tempExports(t, filepath.Join(dataDir, "stacks")); len(leftovers) != 0 {
		t.Fatalf("half-written exports left: %v", leftovers)
	}
	db, err := store.OpenReadOnly(filepath.Join(dataDir, "berth.db"))
	if err != nil {
		t.Fatalf("the state file does not open after the disk was full: %v", err)
	}
	defer db.Close()
	if st, ok, err := db.State(shop.project); err != nil || !ok || st.Applied != next {
		t.Fatalf("stored state %+v (ok %v, err %v), want applied %.12s", st, ok, err, next)
	}
}

// fill writes path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", path, err)
			}
			return
		}
	}
}

// tempExports lists the unfinished exports (.tmp-*) under dir.
func tempExports(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".tmp-") {
			found = append(found, path)
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return found
}

// TestFaultStateDamagedAtABadHead: the state is lost while the branch's
// head is a commit that failed verification here. After the recovery
// berth tries that commit once more (the mark that it failed was in the
// lost file) and rolls back to the commit the running containers carry,
// instead of stopping the stack as a first deploy would.
func TestFaultStateDamagedAtABadHead(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", gatedCompose)
	good := in.commit("shop 1.0")
	run := in.startBerth("")
	run.waitApplied(shop.project, good, 90*time.Second)
	in.write("shop", "compose.yaml", badWeb(gatedCompose))
	bad := in.commit("web 1.1, never healthy")
	rolledBack := func(r *berthRun) func() bool {
		return func() bool {
			s := r.stackState(shop.project)
			return s.State == controller.StateRolledBack && s.Failed == bad && s.Applied == good
		}
	}
	run.waitFor("rolled back", 90*time.Second, rolledBack(run))
	run.stop()

	db := filepath.Join(run.dataDir, "berth.db")
	if err := os.Truncate(db, 9000); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(db, db+".damaged"); err != nil { // the recovery
		t.Fatal(err)
	}
	again := startBerthArgs(t, run.dataDir, run.args)
	again.waitFor("rolled back to the running commit after the recovery", 90*time.Second, rolledBack(again))
	web := shop.name("web", 1)
	after := shop.containers()
	if after[web].Image != "berthtest/app:1.0" || after[web].State != "running" || len(after) != 2 {
		t.Fatalf("the running commit is not back: %v", ids(after))
	}
	again.stop()
}
