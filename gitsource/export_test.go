package gitsource_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/gitsource/gittest"
)

// exportRepo is a repo with two commits of stacks/web; the second changes
// only conf/app.conf.
func exportRepo(t *testing.T) (r *gitsource.Repo, w *gittest.Work, c1, c2 string) {
	t.Helper()
	w = gittest.NewRepo(t)
	w.Write("stacks/web/compose.yaml", "services: {web: {}}\n")
	w.Write("stacks/web/conf/app.conf", "v1\n")
	w.WriteExec("stacks/web/run.sh", "#!/bin/sh\n")
	w.Symlink("conf/app.conf", "stacks/web/link.conf")
	c1 = w.Commit("one")
	w.Write("stacks/web/conf/app.conf", "v2\n")
	c2 = w.Commit("two")
	w.Push()
	return open(t, gitsource.Options{URL: w.Remote}), w, c1, c2
}

func revParse(t *testing.T, w *gittest.Work, rev string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", w.Dir, "rev-parse", rev).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func TestExportTreeFreshThenReused(t *testing.T) {
	t.Parallel()
	r, w, c1, c2 := exportRepo(t)
	parent := filepath.Join(t.TempDir(), "stacks", "web")
	e1, err := r.ExportTree(c1, "stacks/web", parent)
	if err != nil {
		t.Fatal(err)
	}
	tree1 := revParse(t, w, c1+":stacks/web")
	if e1.Hash != tree1 || e1.Path != filepath.Join(parent, tree1, "web") || !e1.Folder || e1.Reused {
		t.Fatalf("export: %+v, want tree %s", e1, tree1)
	}
	if got := tree(t, e1.Path); !reflect.DeepEqual(got, []string{
		"compose.yaml 644", "conf/app.conf 644 v1\n", "link.conf -> conf/app.conf", "run.sh 755",
	}) {
		t.Fatalf("export holds\n%q", got)
	}
	for _, dir := range []string{parent, filepath.Dir(parent)} {
		if fi, err := os.Lstat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v, want mode 0700", dir, fi.Mode(), err)
		}
	}

	// The same tree again: nothing is written, not even over a change.
	marker := filepath.Join(e1.Path, "conf/app.conf")
	if err := os.WriteFile(marker, []byte("changed by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := r.ExportTree(c1, "stacks/web", parent)
	if err != nil || !again.Reused || again.Path != e1.Path {
		t.Fatalf("second export: %+v, %v", again, err)
	}
	if b, _ := os.ReadFile(marker); string(b) != "changed by hand\n" {
		t.Fatalf("a reused export was written: %q", b)
	}

	// Another tree goes into another folder; the first stays as it is.
	e2, err := r.ExportTree(c2, "stacks/web", parent)
	if err != nil || e2.Reused || e2.Path == e1.Path {
		t.Fatalf("export of c2: %+v, %v", e2, err)
	}
	if b, _ := os.ReadFile(filepath.Join(e2.Path, "conf/app.conf")); string(b) != "v2\n" {
		t.Fatalf("c2's conf/app.conf: %q", b)
	}
	if _, err := r.ExportTree(c2, "stacks/absent", parent); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("export of an absent dir: %v", err)
	}
}

// TestExportNeverWritesThroughSymlinks plants symlinks to a victim where
// an export is about to be written; the victim must stay as it is.
func TestExportNeverWritesThroughSymlinks(t *testing.T) {
	t.Parallel()
	r, w, c1, _ := exportRepo(t)
	base := t.TempDir()
	victimDir := filepath.Join(base, "victim")
	victim := filepath.Join(victimDir, "app.conf")
	if err := os.MkdirAll(victimDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(victim, []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tree1 := revParse(t, w, c1+":stacks/web")
	blob := revParse(t, w, c1+":stacks/web/conf/app.conf")
	confTree := revParse(t, w, c1+":stacks/web/conf")

	parent := filepath.Join(base, "stacks", "web")
	if err := os.MkdirAll(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	// An interrupted export's temporary folder, replaced by a symlink.
	if err := os.Symlink(victimDir, filepath.Join(parent, ".tmp-"+tree1)); err != nil {
		t.Fatal(err)
	}
	e, err := r.ExportTree(c1, "stacks/web", parent)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(e.Path, "conf/app.conf")); string(b) != "v1\n" {
		t.Fatalf("export: %q", b)
	}

	mounts := filepath.Join(base, "mounts", "web")
	if err := os.MkdirAll(mounts, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(mounts, ".tmp-"+blob)); err != nil {
		t.Fatal(err)
	}
	f, err := r.ExportPath(c1, "stacks/web", "conf/app.conf", mounts)
	if err != nil || f.Hash != blob || f.Folder || f.Path != filepath.Join(mounts, blob) {
		t.Fatalf("file copy: %+v, %v", f, err)
	}
	if fi, err := os.Lstat(f.Path); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Fatalf("file copy: %v %v", fi.Mode(), err)
	}
	// A symlink where a copy would be is refused, not followed.
	if err := os.Symlink(victimDir, filepath.Join(mounts, confTree)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ExportPath(c1, "stacks/web", "conf", mounts); err == nil || !strings.Contains(err.Error(), "is not a folder") {
		t.Fatalf("export over a planted symlink: %v", err)
	}

	fi, err := os.Stat(victim)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(victim)
	entries, _ := os.ReadDir(victimDir)
	if string(b) != "host secret\n" || fi.Mode().Perm() != 0o600 || len(entries) != 1 {
		t.Fatalf("the victim changed: %q mode %v, %d entries", b, fi.Mode(), len(entries))
	}
}

func TestExportPathCopies(t *testing.T) {
	t.Parallel()
	r, w, c1, _ := exportRepo(t)
	mounts := filepath.Join(t.TempDir(), "mounts", "web")
	d, err := r.ExportPath(c1, "stacks/web", "conf", mounts)
	if err != nil || !d.Folder || d.Hash != revParse(t, w, c1+":stacks/web/conf") {
		t.Fatalf("folder copy: %+v, %v", d, err)
	}
	if got := tree(t, d.Path); !reflect.DeepEqual(got, []string{"app.conf 644 v1\n"}) {
		t.Fatalf("folder copy holds %q", got)
	}
	x, err := r.ExportPath(c1, "stacks/web", "run.sh", mounts)
	if err != nil || !strings.HasSuffix(x.Path, "-x") {
		t.Fatalf("executable copy: %+v, %v", x, err)
	}
	if fi, _ := os.Stat(x.Path); fi.Mode().Perm() != 0o755 {
		t.Fatalf("executable copy mode %v", fi.Mode())
	}
	if _, err := r.ExportPath(c1, "stacks/web", "link.conf", mounts); err == nil {
		t.Fatal("a symlink was copied as a mount source")
	}
	whole, err := r.ExportPath(c1, "stacks/web", ".", mounts)
	if err != nil || !whole.Folder || whole.Hash != revParse(t, w, c1+":stacks/web") {
		t.Fatalf("copy of the whole folder: %+v, %v", whole, err)
	}
	if got := tree(t, whole.Path); len(got) != 4 || got[1] != "conf/app.conf 644 v1\n" {
		t.Fatalf("copy of the whole folder holds %q", got)
	}
	if _, err := r.ExportPath(c1, "stacks/web", "absent", mounts); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("copy of an absent path: %v", err)
	}
}

func TestExportRefusesForeignParent(t *testing.T) {
	t.Parallel()
	r, _, c1, _ := exportRepo(t)
	base := t.TempDir()
	elsewhere := filepath.Join(base, "elsewhere")
	if err := os.Mkdir(elsewhere, 0o700); err != nil {
		t.Fatal(err)
	}
	stacks := filepath.Join(base, "stacks")
	if err := os.Mkdir(stacks, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(stacks, "web")); err != nil {
		t.Fatal(err)
	}
	_, err := r.ExportTree(c1, "stacks/web", filepath.Join(stacks, "web"))
	wantErr(t, err, "is a symlink")
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatal("export wrote through a symlinked parent")
	}
	if os.Geteuid() != 0 {
		return // only root can hand a folder to another user
	}
	foreign := filepath.Join(stacks, "api")
	if err := os.Mkdir(foreign, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err = r.ExportTree(c1, "stacks/web", foreign)
	wantErr(t, err, "is owned by uid 65534")
}

func TestExportTreeRefusesEscapingSymlinks(t *testing.T) {
	t.Parallel()
	w := gittest.NewRepo(t)
	w.Write("s/ok", "x")
	w.Symlink("../../etc/passwd", "s/evil")
	c := w.Commit("links")
	w.Push()
	r := open(t, gitsource.Options{URL: w.Remote})
	parent := filepath.Join(t.TempDir(), "stacks", "s")
	_, err := r.ExportTree(c, "s", parent)
	wantErr(t, err, "points outside the export")
	// The commit must change: the controller stalls on this type.
	if u := (*gitsource.UnsafeTreeError)(nil); !errors.As(err, &u) || u.Path != "evil" {
		t.Fatalf("want an UnsafeTreeError naming evil: %#v", err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Fatal("export wrote files before refusing")
	}
}
