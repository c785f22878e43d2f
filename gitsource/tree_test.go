package gitsource_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/gitsource/gittest"
)

// twoCommits makes a repo whose second commit modifies, adds, removes,
// renames and chmods files under stacks/, and returns a clone of it.
func twoCommits(t *testing.T) (r *gitsource.Repo, c1, c2 string) {
	t.Helper()
	w := gittest.NewRepo(t)
	w.Write("stacks/web/compose.yaml", "services: {web: {}}\n")
	w.Write("stacks/web/conf/nginx.conf", "v1\n")
	w.Write("stacks/web/old.txt", "old\n")
	w.Write("stacks/web/gone/only.txt", "x\n")
	w.Write("stacks/web/run.sh", "#!/bin/sh\n")
	w.Write("stacks/db/compose.yaml", "services: {db: {}}\n")
	w.Write("README.md", "hi\n")
	c1 = w.Commit("one")
	w.Write("stacks/web/conf/nginx.conf", "v2\n")
	w.Remove("stacks/web/gone")
	w.Run("mv", "stacks/web/old.txt", "stacks/web/new.txt")
	w.WriteExec("stacks/web/run.sh", "#!/bin/sh\n")
	w.Symlink("conf/nginx.conf", "stacks/web/link.conf")
	w.Write("stacks/api/compose.yaml", "services: {api: {}}\n")
	c2 = w.Commit("two")
	w.Push()
	return open(t, gitsource.Options{URL: w.Remote}), c1, c2
}

func TestDirsAndReadFile(t *testing.T) {
	t.Parallel()
	r, c1, c2 := twoCommits(t)
	for _, tc := range []struct {
		rev, dir string
		want     []string
	}{
		{c1, "stacks", []string{"db", "web"}},
		{c2, "stacks", []string{"api", "db", "web"}},
		{c2, "./stacks/", []string{"api", "db", "web"}},
		{c2, "", []string{"stacks"}},
		{c2, "absent", []string{}},
		{c2, "README.md", []string{}},
	} {
		got, err := r.Dirs(tc.rev, tc.dir)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Dirs(%s, %q) = %q, %v; want %q", tc.rev[:7], tc.dir, got, err, tc.want)
		}
	}
	if b, err := r.ReadFile(c2, "stacks/web/conf/nginx.conf"); err != nil || string(b) != "v2\n" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if b, err := r.ReadFile(c2, "stacks/web/link.conf"); err != nil || string(b) != "v2\n" {
		t.Fatalf("ReadFile through a symlink = %q, %v", b, err)
	}
	for _, p := range []string{"stacks/web/old.txt", "stacks/web", "nope/x"} {
		if _, err := r.ReadFile(c2, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile(%q): want fs.ErrNotExist, got %v", p, err)
		}
	}
	if _, err := r.ReadFile(c2, "../etc/passwd"); err == nil {
		t.Error("ReadFile(../etc/passwd) worked")
	}
}

func TestChanged(t *testing.T) {
	t.Parallel()
	r, c1, c2 := twoCommits(t)
	got, err := r.Changed(c1, c2)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"stacks/api/compose.yaml",    // added
		"stacks/web/conf/nginx.conf", // modified
		"stacks/web/gone/only.txt",   // deleted
		"stacks/web/link.conf",       // symlink added
		"stacks/web/new.txt",         // rename, new side
		"stacks/web/old.txt",         // rename, old side
		"stacks/web/run.sh",          // mode only
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Changed =\n%q\nwant\n%q", got, want)
	}
	all, err := r.Changed("", c1)
	if err != nil || len(all) != 7 || !sort.StringsAreSorted(all) || all[0] != "README.md" {
		t.Fatalf("Changed(\"\", c1) = %q, %v", all, err)
	}
	if none, err := r.Changed(c2, c2); err != nil || len(none) != 0 {
		t.Fatalf("Changed(c2, c2) = %q, %v", none, err)
	}
}

func TestExport(t *testing.T) {
	t.Parallel()
	r, c1, c2 := twoCommits(t)
	dest := filepath.Join(t.TempDir(), "out", "web")
	if err := r.Export(c1, "stacks/web", dest); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("dest: %v %v", fi.Mode(), err)
	}
	stray := filepath.Join(dest, "stray/deep/file")
	if err := os.MkdirAll(filepath.Dir(stray), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stray, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	if err := r.Export(c2, "stacks/web", dest); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dest); !reflect.DeepEqual(got, []string{
		"compose.yaml 644",
		"conf/nginx.conf 644 v2\n",
		"link.conf -> conf/nginx.conf",
		"new.txt 644 old\n",
		"run.sh 755",
	}) {
		t.Fatalf("dest holds\n%q", got)
	}
	if err := r.Export(c2, "stacks/absent", t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("export of an absent dir: %v", err)
	}
}

func TestExportRefusesEscapingSymlinks(t *testing.T) {
	t.Parallel()
	for name, links := range map[string][][2]string{
		"dotdot":   {{"../../etc/passwd", "s/evil"}},
		"absolute": {{"/etc/passwd", "s/evil"}},
		"via link": {{".", "s/here"}, {"here/../../x", "s/evil"}}, // lexically inside
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := gittest.NewRepo(t)
			w.Write("s/ok", "x")
			for _, l := range links {
				w.Symlink(l[0], l[1])
			}
			c := w.Commit("links")
			w.Push()
			r := open(t, gitsource.Options{URL: w.Remote})
			dest := t.TempDir()
			err := r.Export(c, "s", dest)
			wantErr(t, err, "points outside the export")
			if entries, _ := os.ReadDir(dest); len(entries) != 0 {
				t.Fatal("export wrote files before refusing")
			}
		})
	}
}

// tree lists dest as "path mode [content]" lines, symlinks as "path -> target".
func tree(t *testing.T, dest string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dest, p)
		if d.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			out = append(out, rel+" -> "+target)
			return nil
		}
		fi, _ := d.Info()
		line := fmt.Sprintf("%s %o", rel, fi.Mode().Perm())
		if strings.HasSuffix(rel, ".txt") || strings.HasSuffix(rel, ".conf") {
			b, _ := os.ReadFile(p)
			line += " " + string(b)
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpenLocalResolve(t *testing.T) {
	t.Parallel()
	w := gittest.NewRepo(t)
	w.Write("stacks/a/compose.yaml", "x")
	c1 := w.Commit("one")
	w.TagAnnotated("v1", "v1")
	w.Run("checkout", "-q", "-b", "feature")
	c2 := w.Commit("two")
	w.Run("push", "-q", "origin", "main", "feature", "--tags")

	sub := filepath.Join(w.Dir, "stacks", "a")
	for _, path := range []string{w.Dir, sub, w.Remote} {
		r, err := gitsource.OpenLocal(path)
		if err != nil {
			t.Fatal(err)
		}
		for rev, want := range map[string]string{
			c1: c1, c1[:8]: c1, "main": c1, "v1": c1, "feature": c2, "feature~1": c1,
		} {
			c, err := r.Resolve(rev)
			if err != nil || c.Hash != want {
				t.Errorf("%s: Resolve(%q) = %s, %v; want %s", path, rev, c.Hash, err, want)
			}
		}
		if path != w.Remote {
			if c, err := r.Resolve("HEAD"); err != nil || c.Hash != c2 {
				t.Errorf("%s: Resolve(HEAD) = %s, %v", path, c.Hash, err)
			}
		}
		if _, err := r.Resolve("nope"); !errors.Is(err, gitsource.ErrRefNotFound) {
			t.Errorf("Resolve(nope): %v", err)
		}
	}
	if _, err := gitsource.OpenLocal(t.TempDir()); err == nil {
		t.Fatal("OpenLocal on a plain directory worked")
	}
}

func TestReadFileRefusesLargeFiles(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	w := srv.NewWork("app")
	w.Write("big", strings.Repeat("x", gitsource.MaxReadFile+1))
	w.Write("small", strings.Repeat("x", gitsource.MaxReadFile))
	c := w.Commit("files")
	w.Push()
	r := open(t, gitsource.Options{URL: srv.URL("app")})
	fetch(t, r)
	if _, err := r.ReadFile(c, "big"); !errors.Is(err, gitsource.ErrTooLarge) {
		t.Fatalf("ReadFile of a file over the limit: %v", err)
	}
	if b, err := r.ReadFile(c, "small"); err != nil || len(b) != gitsource.MaxReadFile {
		t.Fatalf("ReadFile of a file at the limit: %d bytes, %v", len(b), err)
	}
}

func TestListingsPastTheirBudgetAreRefused(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	w := srv.NewWork("app")
	for i := 0; i <= gitsource.MaxDirs; i++ {
		w.Write(fmt.Sprintf("stacks/s%d/compose.yaml", i), "services: {}\n")
	}
	for i := 0; i < gitsource.MaxTreeEntries; i++ {
		w.Write(fmt.Sprintf("stacks/s0/f%d", i), "x")
	}
	c := w.Commit("too many")
	w.Push()
	r := open(t, gitsource.Options{URL: srv.URL("app")})
	fetch(t, r)
	if _, err := r.Dirs(c, "stacks"); !errors.Is(err, gitsource.ErrTooLarge) {
		t.Errorf("Dirs of %d stacks: %v", gitsource.MaxDirs+1, err)
	}
	if _, err := r.ExportTree(c, "stacks/s0", t.TempDir()); !errors.Is(err, gitsource.ErrTooLarge) {
		t.Errorf("export of %d files: %v", gitsource.MaxTreeEntries+1, err)
	}
	if _, err := r.ExportTree(c, "stacks/s1", t.TempDir()); err != nil {
		t.Errorf("export of a small stack: %v", err)
	}
}

func TestExportRefusesLargeFiles(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	w := srv.NewWork("app")
	w.Write("stacks/big/data", strings.Repeat("x", gitsource.MaxExportFile+1))
	w.Write("stacks/ok/data", strings.Repeat("x", 1<<20))
	c := w.Commit("files")
	w.Push()
	r := open(t, gitsource.Options{URL: srv.URL("app")})
	fetch(t, r)
	if _, err := r.ExportTree(c, "stacks/big", t.TempDir()); !errors.Is(err, gitsource.ErrTooLarge) || !strings.Contains(err.Error(), "data") {
		t.Fatalf("export of a file over the budget: %v", err)
	}
	if _, err := r.ExportTree(c, "stacks/ok", t.TempDir()); err != nil {
		t.Fatalf("export of a 1 MiB file: %v", err)
	}
}
