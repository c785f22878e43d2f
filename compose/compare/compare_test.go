package compare

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose/load"
	"github.com/compose-spec/compose-go/v2/types"
)

// Each case in testdata/compare/NN-name holds the stack folder at base/ and
// at head/ (either may be missing: a stack added or removed) and the golden
// renderings diff.golden and diff.json.golden.
func TestCompareGolden(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "compare"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			src := filepath.Join("testdata", "compare", e.Name())
			base, head := loadPair(t, filepath.Join(src, "base"), filepath.Join(src, "head"))
			d := CompareProjects(base, head)
			js, err := json.MarshalIndent(d, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(src, "diff.golden"), d.String())
			golden(t, filepath.Join(src, "diff.json.golden"), string(js)+"\n")
			assertNoValues(t, d.String()+string(js), base, head)
		})
	}
}

// loadPair loads two versions of a stack from the same folder, one after
// the other, as berth diff does, so that absolute paths agree. A missing
// version loads as nil.
func loadPair(t *testing.T, baseSrc, headSrc string) (*types.Project, *types.Project) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shop")
	load := func(src string) *types.Project {
		if _, err := os.Stat(src); os.IsNotExist(err) {
			return nil
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
		p, err := load.Load(context.Background(), load.LoadOptions{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	return load(baseSrc), load(headSrc)
}

// assertNoValues fails when any environment value of either side, from
// environment: or from an env_file, appears in out.
func assertNoValues(t *testing.T, out string, ps ...*types.Project) {
	t.Helper()
	for _, p := range ps {
		if p == nil {
			continue
		}
		for _, s := range p.Services {
			for k, v := range s.Environment {
				if v != nil && len(*v) >= 4 && strings.Contains(out, *v) {
					t.Errorf("output shows the value of %s.%s:\n%s", s.Name, k, out)
				}
			}
		}
	}
}

func TestCompareNeverShowsSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("compose.yaml", "services:\n  web:\n    image: example/web:1.4\n    env_file: app.env\n    environment:\n      DB_PASSWORD: canary-inline-old\n")
	write("app.env", "API_TOKEN=canary-file-old\nGONE=canary-gone\n")
	base, err := load.Load(context.Background(), load.LoadOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	write("compose.yaml", "services:\n  web:\n    image: example/web:1.4\n    env_file: app.env\n    environment:\n      DB_PASSWORD: canary-inline-new\n")
	write("app.env", "API_TOKEN=canary-file-new\nNEW_TOKEN=canary-added\n")
	head, err := load.Load(context.Background(), load.LoadOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	d := CompareProjects(base, head)
	js, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	out := d.String() + string(js)
	if strings.Contains(out, "canary") {
		t.Errorf("output shows an environment value:\n%s", out)
	}
	for _, key := range []string{"+NEW_TOKEN", "-GONE", "~API_TOKEN", "~DB_PASSWORD", "recreate"} {
		if !strings.Contains(d.String(), key) {
			t.Errorf("text lacks %q:\n%s", key, d.String())
		}
	}
}

func TestCompareIsDeterministic(t *testing.T) {
	src := filepath.Join("testdata", "compare", "01-services")
	base, head := loadPair(t, filepath.Join(src, "base"), filepath.Join(src, "head"))
	want := CompareProjects(base, head).String()
	for range 20 {
		if got := CompareProjects(base, head).String(); got != want {
			t.Fatalf("two comparisons differ:\n%s\n%s", want, got)
		}
	}
}

func TestCompareNilSides(t *testing.T) {
	if d := CompareProjects(nil, nil); d.Changed() {
		t.Errorf("nil, nil: %+v", d)
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./compose/compare -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("comparison differs from %s\n--- got\n%s--- want\n%s", path, got, want)
	}
}
