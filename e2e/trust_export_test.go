package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/e2e/testenv"
	"github.com/berth-gitops/berth/gitsource/gittest"
)

// exportImage is the test program's image for this file's scenarios: a tag
// of its own, so building it never replaces the images other scenarios
// run at the same time.
const exportImage = "berthtest/trust-export:1.0"

// newExportInfra is newInfra with exportImage as the only image.
func newExportInfra(t *testing.T) *infra {
	t.Helper()
	cli := testenv.Engine(t)
	testenv.BuildImages(t, cli, exportImage)
	srv := gittest.NewServer(t, gittest.ServerOptions{User: gitUser, Password: gitPassword})
	return &infra{t: t, cli: cli, srv: srv, work: srv.NewWork("infra"), prefix: testenv.UniqueProject(t)}
}

// exportCompose: attacker mounts ./conf read-write and keeps replacing
// /conf/app.conf with a symlink to a host file (by its host path); other
// serves behind a health gate and starts after attacker.
func exportCompose(victim, greeting, healthy string) string {
	return `services:
  attacker:
    image: ` + exportImage + `
    restart: unless-stopped
    command: ["swap", "/conf/app.conf", "` + victim + `", "200us"]
    volumes:
      - ./conf:/conf
    x-berth:
      stability: 1s
  other:
    image: ` + exportImage + `
    restart: unless-stopped
    depends_on: [attacker]
    environment:
      GREETING: "` + greeting + `"
      HEALTHY: "` + healthy + `"
    healthcheck:
      test: ["CMD", "/app", "health"]
      interval: 500ms
      timeout: 1s
      retries: 3
    x-berth:
      health_timeout: 6s
`
}

// TestTrustExportSymlinkRace: a container that keeps turning its
// read-write mount of ./conf into symlinks to a root-owned host file never
// makes berth write that file; a commit that changes conf/app.conf
// recreates the container with the new file and says so; a commit that
// changes another service leaves it alone; a rollback brings the old file
// back; and the copies nothing uses are removed.
func TestTrustExportSymlinkRace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the host file the container aims at is root's")
	}
	in := newExportInfra(t)
	exp := in.project("exp")
	victim := filepath.Join(t.TempDir(), "host-only.conf")
	const victimText = "root's own file, never berth's to write\n"
	if err := os.WriteFile(victim, []byte(victimText), 0o600); err != nil {
		t.Fatal(err)
	}
	victimUnchanged := func(when string) {
		t.Helper()
		fi, err := os.Lstat(victim)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(victim)
		if string(b) != victimText || fi.Mode() != 0o600 {
			t.Fatalf("%s: the host file changed: %q, mode %v", when, b, fi.Mode())
		}
	}
	in.write("exp", "compose.yaml", exportCompose(victim, "one", "true"))
	in.write("exp", "conf/app.conf", "version one")
	c1 := in.commit("attacker and other")
	run := in.startBerth("")
	run.waitApplied(exp.project, c1, 90*time.Second)
	attacker := exp.name("attacker", 1)
	other := exp.name("other", 1)

	t.Log("the attacker's symlinks are in place in what it mounts")
	first := exp.containers()[attacker]
	src := mountSource(t, in.cli, first.ID, "/conf")
	run.waitFor("a planted symlink", 20*time.Second, func() bool {
		fi, err := os.Lstat(filepath.Join(src, "app.conf"))
		return err == nil && fi.Mode()&os.ModeSymlink != 0
	})
	if !strings.Contains(exp.logsOf(first.ID), "content: version one") {
		t.Fatalf("attacker's start: %s", exp.logsOf(first.ID))
	}
	for _, dir := range []string{filepath.Join(run.dataDir, "stacks"), filepath.Join(run.dataDir, "mounts")} {
		if fi, err := os.Lstat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v, want a folder with mode 0700", dir, fi, err)
		}
	}

	t.Log("a commit that changes conf/app.conf: the host file stays, the attacker gets the new file")
	before := exp.containers()
	in.write("exp", "conf/app.conf", "version two")
	c2 := in.commit("conf: version two")
	run.waitApplied(exp.project, c2, 60*time.Second)
	victimUnchanged("after the conf change")
	after := exp.containers()
	if after[attacker].ID == first.ID {
		t.Fatal("the attacker, whose mounted file changed, was not recreated")
	}
	if !strings.Contains(exp.logsOf(after[attacker].ID), "content: version two") {
		t.Fatalf("the recreated attacker does not see the new file: %s", exp.logsOf(after[attacker].ID))
	}
	if after[other].ID != before[other].ID {
		t.Fatal("other, whose files did not change, was recreated")
	}
	if ops := deployOps(run, exp.project, c2); !strings.Contains(ops, "mounted folder conf changed") || strings.Contains(ops, "other") {
		t.Fatalf("the deploy of c2 did: %s", ops)
	}

	t.Log("a commit that changes only other leaves the attacker's container alone")
	in.write("exp", "compose.yaml", exportCompose(victim, "two", "true"))
	c3 := in.commit("other: greeting two")
	run.waitApplied(exp.project, c3, 60*time.Second)
	victimUnchanged("after the other change")
	third := exp.containers()
	if third[attacker].ID != after[attacker].ID {
		t.Fatal("the attacker was recreated though its files did not change")
	}
	if third[other].ID == after[other].ID {
		t.Fatal("other, whose environment changed, was not recreated")
	}

	t.Log("a commit that fails verification rolls back, files included")
	in.write("exp", "conf/app.conf", "version three")
	in.write("exp", "compose.yaml", exportCompose(victim, "three", "false"))
	c4 := in.commit("conf three and an unhealthy other")
	run.waitFor("rolled back", 90*time.Second, func() bool {
		s := run.stackState(exp.project)
		return s.State == controller.StateRolledBack && s.Failed == c4 && s.Applied == c3
	})
	victimUnchanged("after the rollback")
	if ops := deployOps(run, exp.project, c4); !strings.Contains(ops, "mounted folder conf changed") {
		t.Fatalf("the failed deploy did not roll the attacker: %s", ops)
	}
	back := exp.containers()[attacker]
	if back.ID == third[attacker].ID || back.State != "running" {
		t.Fatalf("the attacker was not put back: %+v", back)
	}
	if logs := exp.logsOf(back.ID); !strings.Contains(logs, "content: version two") {
		t.Fatalf("after the rollback the attacker sees: %s", logs)
	}

	t.Log("only the copy in use is left under mounts")
	entries, err := os.ReadDir(filepath.Join(run.dataDir, "mounts", exp.project))
	if err != nil {
		t.Fatal(err)
	}
	inUse := filepath.Base(mountSource(t, in.cli, back.ID, "/conf"))
	if len(entries) != 1 || entries[0].Name() != inUse {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("mount copies left: %v, in use: %s", names, inUse)
	}
}

// mountSource is the host path a container mounts at target.
func mountSource(t *testing.T, cli *client.Client, id, target string) string {
	t.Helper()
	res, err := cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Container.Mounts {
		if m.Destination == target {
			return m.Source
		}
	}
	t.Fatalf("container %s mounts nothing at %s", id[:12], target)
	return ""
}

// deployOps is what the history's deploys of commit did, one line each.
func deployOps(run *berthRun, stack, commit string) string {
	var ops []string
	for _, d := range run.history(stack) {
		if d.Commit == commit {
			ops = append(ops, d.Operations...)
		}
	}
	return strings.Join(ops, "\n")
}

// TestTrustExportConfigFile: a config file from the stack folder is
// mounted from its own copy, never from the export, and a change to it
// recreates the service that mounts it, naming the file.
func TestTrustExportConfigFile(t *testing.T) {
	in := newExportInfra(t)
	exp := in.project("cfg")
	in.write("cfg", "compose.yaml", `services:
  web:
    image: `+exportImage+`
    restart: unless-stopped
    command: ["sleep", "1h"]
    configs:
      - source: appini
        target: /etc/app.ini
    x-berth:
      stability: 1s
configs:
  appini:
    file: ./app.ini
`)
	in.write("cfg", "app.ini", "level=one\n")
	c1 := in.commit("web with app.ini")
	run := in.startBerth("")
	run.waitApplied(exp.project, c1, 90*time.Second)
	web := exp.containers()[exp.name("web", 1)]
	src := mountSource(t, in.cli, web.ID, "/etc/app.ini")
	if want := filepath.Join(run.dataDir, "mounts", exp.project) + "/"; !strings.HasPrefix(src, want) {
		t.Fatalf("app.ini is mounted from %s, want a copy under %s", src, want)
	}

	in.write("cfg", "app.ini", "level=two\n")
	c2 := in.commit("app.ini: level two")
	run.waitApplied(exp.project, c2, 60*time.Second)
	now := exp.containers()[exp.name("web", 1)]
	if now.ID == web.ID {
		t.Fatal("web, whose config file changed, was not recreated")
	}
	if got := exp.exec(now.ID, "/app", "cat", "/etc/app.ini"); got != "level=two\n" {
		t.Fatalf("web reads %q", got)
	}
	if ops := deployOps(run, exp.project, c2); !strings.Contains(ops, "mounted file app.ini changed") {
		t.Fatalf("the deploy of c2 did: %s", ops)
	}
}

// TestTrustExportMissingBindSource: a bind mount of a stack path that the
// commit does not hold stalls the commit, naming the service and the path,
// and leaves the live stack as it was (before, the engine created the
// folder inside berth's copy of the stack, where the next export removed it).
func TestTrustExportMissingBindSource(t *testing.T) {
	in := newExportInfra(t)
	exp := in.project("miss")
	compose := `services:
  web:
    image: ` + exportImage + `
    restart: unless-stopped
    command: ["sleep", "1h"]
    x-berth:
      stability: 1s
`
	in.write("miss", "compose.yaml", compose)
	c1 := in.commit("web")
	run := in.startBerth("")
	run.waitApplied(exp.project, c1, 90*time.Second)
	before := exp.containers()

	in.write("miss", "compose.yaml", strings.Replace(compose, "    x-berth:", "    volumes:\n      - ./data:/data\n    x-berth:", 1))
	c2 := in.commit("web keeps data in ./data")
	run.waitFor("stalled", 30*time.Second, func() bool {
		s := run.stackState(exp.project)
		return s.State == controller.StateStalled && s.Attempted == c2
	})
	s := run.stackState(exp.project)
	if !strings.Contains(s.Error, `"web"`) || !strings.Contains(s.Error, "data") || s.Applied != c1 {
		t.Fatalf("stalled with %+v", s)
	}
	if after := exp.containers(); ids(after) != ids(before) {
		t.Fatalf("the live stack changed: %s, was %s", ids(after), ids(before))
	}
}
