package stacks_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose/stacks"
	"github.com/berth-gitops/berth/gitsource"
)

// repo writes files (slash paths) into a folder, commits them with git and
// returns the folder, the commit's tree and the folder as a tree.
func repo(t *testing.T, files map[string]string) (dir string, atCommit, onDisk stacks.Tree) {
	t.Helper()
	dir = t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(body, "symlink:"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-qm", "stacks")
	r, err := gitsource.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, stacks.Commit(r, git("rev-parse", "HEAD")), stacks.Dir(dir)
}

const service = "services: {app: {image: busybox:1.36}}\n"

func TestFindReportsBadNamesBesideTheOthers(t *testing.T) {
	_, atCommit, onDisk := repo(t, map[string]string{
		"stacks/web/compose.yaml":            service,
		"stacks/api/docker-compose.yml":      service,
		"stacks/docs/README.md":              "not a stack\n",
		"stacks/evil/compose.yaml":           service,
		"stacks/evil/link":                   "symlink:../../../etc/passwd",
		"stacks/bad\nname/compose.yaml":      service,
		"stacks/\x1b[31mred/compose.yaml":    service,
		"stacks/with space/compose.yaml":     service,
		"stacks/.hidden/compose.yaml":        service,
		"stacks/Shop_2.v1-x/compose.yaml":    service,
		"stacks/linked/compose.yaml":         "symlink:base.yaml",
		"stacks/linked/base.yaml":            service,
		"other/ignored/compose.yaml":         service,
		"stacks/nested/deeper/compose.yaml":  service,
		"stacks/nocompose/compose.yaml.orig": service,
	})
	for name, tree := range map[string]stacks.Tree{"commit": atCommit, "disk": onDisk} {
		t.Run(name, func(t *testing.T) {
			found, err := stacks.Find(tree, "stacks")
			if err != nil {
				t.Fatal(err)
			}
			var good, bad []string
			for _, s := range found {
				if s.Err == nil {
					good = append(good, s.Name)
					continue
				}
				bad = append(bad, s.Err.Error())
				if !errors.As(s.Err, new(*stacks.BadNameError)) {
					t.Errorf("%q: error %v is not a *BadNameError", s.Name, s.Err)
				}
			}
			if want := []string{"Shop_2.v1-x", "api", "evil", "linked", "web"}; !reflect.DeepEqual(good, want) {
				t.Errorf("good stacks = %q, want %q", good, want)
			}
			want := []string{
				`stack folder "\x1b[31mred": a stack's name starts with a letter or digit and holds only letters, digits, '.', '_' and '-' (rename the folder)`,
				`stack folder ".hidden": a stack's name starts with a letter or digit and holds only letters, digits, '.', '_' and '-' (rename the folder)`,
				`stack folder "bad\nname": a stack's name starts with a letter or digit and holds only letters, digits, '.', '_' and '-' (rename the folder)`,
				`stack folder "with space": a stack's name starts with a letter or digit and holds only letters, digits, '.', '_' and '-' (rename the folder)`,
			}
			if !reflect.DeepEqual(bad, want) {
				t.Errorf("bad stacks =\n%q\nwant\n%q", bad, want)
			}
			for _, msg := range bad {
				if strings.ContainsAny(msg, "\n\x1b") {
					t.Errorf("error %q carries a control character", msg)
				}
			}
		})
	}
}

func TestFindWithoutTheFolder(t *testing.T) {
	_, atCommit, onDisk := repo(t, map[string]string{"README.md": "x\n"})
	for name, tree := range map[string]stacks.Tree{"commit": atCommit, "disk": onDisk} {
		found, err := stacks.Find(tree, "stacks")
		if err != nil || len(found) != 0 {
			t.Errorf("%s: Find = %v, %v; want no stack and no error", name, found, err)
		}
	}
}

func TestSettingsChooseTheHostWithoutLoading(t *testing.T) {
	big := "x-berth: {hosts: [web-*]}\n# " + strings.Repeat("x", stacks.MaxSettingsRead) + "\n"
	_, atCommit, onDisk := repo(t, map[string]string{
		"stacks/mine/compose.yaml":        "x-berth: {hosts: [web-*]}\n" + service,
		"stacks/theirs/compose.yaml":      "x-berth: {hosts: [db-*]}\n" + service,
		"stacks/overlay/compose.yaml":     "x-berth: {hosts: [db-*]}\n" + service,
		"stacks/overlay/compose.prod.yml": "x-berth: {hosts: [web-1]}\n",
		// Interpolation would fail if the file were loaded: it is not.
		"stacks/unloaded/compose.yaml": "x-berth: {hosts: [db-*]}\nservices: {app: {image: \"${NOPE:?unset}\"}}\n",
		"stacks/huge/compose.yaml":     big,
		"stacks/broken/compose.yaml":   "x-berth: {hosts: [web-*]\n",
	})
	for name, tree := range map[string]stacks.Tree{"commit": atCommit, "disk": onDisk} {
		t.Run(name, func(t *testing.T) {
			found, err := stacks.Find(tree, "stacks")
			if err != nil {
				t.Fatal(err)
			}
			runs := map[string]string{}
			for _, s := range found {
				set, err := stacks.Settings(tree, s, "prod")
				switch {
				case err != nil:
					runs[s.Name] = "error: " + err.Error()
				case set.RunsOn("web-1"):
					runs[s.Name] = "runs"
				default:
					runs[s.Name] = "not here"
				}
			}
			want := map[string]string{
				"mine": "runs", "theirs": "not here", "overlay": "runs", "unloaded": "not here",
				"huge":   "error: compose file compose.yaml is larger than 1024 KiB",
				"broken": runs["broken"],
			}
			if !strings.HasPrefix(runs["broken"], "error: compose.yaml: ") {
				t.Errorf("broken: %q, want a YAML error naming compose.yaml", runs["broken"])
			}
			if !reflect.DeepEqual(runs, want) {
				t.Errorf("runs =\n%q\nwant\n%q", runs, want)
			}
		})
	}
}
