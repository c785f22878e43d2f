package compose

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// planCaches are empty validation and plan caches of a test's own. The
// test's files, written just before they load, count as settled.
func planCaches(t *testing.T) caches {
	t.Helper()
	margin := racyMargin
	racyMargin = 0
	t.Cleanup(func() { racyMargin = margin })
	base := t.TempDir()
	return caches{
		valid: &validCache{dir: filepath.Join(base, "compose-validated")},
		plans: &planCache{dir: filepath.Join(base, "compose-plans")},
	}
}

// planLoad loads o for a plan and reports whether the plan cache answered.
func planLoad(t *testing.T, o LoadOptions, c caches) (desired string, hit bool) {
	t.Helper()
	l, err := loadStack(context.Background(), o, c, true)
	if err != nil {
		t.Fatal(err)
	}
	d, reqs := l.desired, l.engine
	if l.project != nil && d == nil {
		if d, err = NewDesired(l.project); err != nil {
			t.Fatal(err)
		}
		reqs = EngineRequirements(l.project)
	}
	b, err := json.Marshal(struct {
		D *Desired
		R []EngineRequirement
	}{d, reqs})
	if err != nil {
		t.Fatal(err)
	}
	return string(b), l.project == nil
}

// fullDesired is the desired state of a load that consults no cache.
func fullDesired(t *testing.T, o LoadOptions) string {
	t.Helper()
	got, hit := planLoad(t, o, caches{})
	if hit {
		t.Fatal("a load without caches answered from a cache")
	}
	return got
}

// copyDir copies a folder of the test data, subfolders included.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		writeFile(t, filepath.Join(dst, rel), string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPlanCacheCorpus: on every case of the hash corpus, a plan cache hit
// gives exactly the desired state and engine requirements of a full load,
// and the cases that read what an entry cannot track are never answered.
func TestPlanCacheCorpus(t *testing.T) {
	neverCached := map[string]bool{
		"11-shared-namespaces": true, // service:X references: hashes need container IDs
		"22-extends":           true, // extends from another file
		"23-include":           true,
	}
	var missed []string
	for _, name := range hashCases(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			copyDir(t, filepath.Join("testdata", "hash", name), dir)
			o := LoadOptions{Dir: dir, ProjectName: "corpus"}
			if _, err := os.Stat(filepath.Join(dir, "compose.production.yaml")); err == nil {
				o.Env = "production"
			}
			want := fullDesired(t, o)
			c := planCaches(t)
			if got, hit := planLoad(t, o, c); hit || got != want {
				t.Fatalf("first load: hit %v, desired equal %v", hit, got == want)
			}
			got, hit := planLoad(t, o, c)
			if got != want {
				t.Fatalf("desired state from the plan cache differs from a full load:\n got %s\nwant %s", got, want)
			}
			if !hit {
				missed = append(missed, name)
				return
			}
			// Field by field too, for what JSON would not show.
			l, err := loadStack(context.Background(), o, c, true)
			if err != nil {
				t.Fatal(err)
			}
			full, err := loadStack(context.Background(), o, caches{}, false)
			if err != nil {
				t.Fatal(err)
			}
			d, err := NewDesired(full.project)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(l.desired, d) || !reflect.DeepEqual(l.engine, EngineRequirements(full.project)) {
				t.Fatalf("desired state from the plan cache differs from a full load:\n got %+v\nwant %+v", l.desired, d)
			}
		})
	}
	var wantMissed []string
	for name := range neverCached {
		wantMissed = append(wantMissed, name)
	}
	slices.Sort(wantMissed)
	if !t.Failed() && !slices.Equal(missed, wantMissed) {
		t.Fatalf("cases not answered from the plan cache: %v, want %v", missed, wantMissed)
	}
}

const planStack = `services:
  web:
    image: berthtest/app:${TAG:-1.0}
    env_file:
      - path: app.env
      - path: optional.env
        required: false
    environment:
      FROM_SHELL:
    secrets: [token]
secrets:
  token:
    file: ./token.txt
`

// TestPlanCacheMissesOnEveryInput changes each kind of input in turn: the
// next plan must load the files again and see the change.
func TestPlanCacheMissesOnEveryInput(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stack")
	writeFile(t, filepath.Join(dir, "compose.yaml"), planStack)
	writeFile(t, filepath.Join(dir, "app.env"), "MODE=one\n")
	writeFile(t, filepath.Join(dir, "token.txt"), "t0\n")
	t.Setenv("FROM_SHELL", "a")
	o := LoadOptions{Dir: dir, OSEnv: true}
	c := planCaches(t)
	prev, _ := planLoad(t, o, c)
	if _, hit := planLoad(t, o, c); !hit {
		t.Fatal("unchanged inputs were not answered from the plan cache")
	}
	changes := []struct {
		name   string
		change func()
		same   bool // the desired state does not change, only the files read
	}{
		{"compose file", func() { writeFile(t, filepath.Join(dir, "compose.yaml"), planStack+"# comment\n") }, true},
		{".env value", func() { writeFile(t, filepath.Join(dir, ".env"), "TAG=2.0\n") }, false},
		{"process variable in interpolation", func() { t.Setenv("TAG", "3.0") }, false},
		{"process variable in environment resolution", func() { t.Setenv("FROM_SHELL", "b") }, false},
		{"unrelated process variable", func() { t.Setenv("BERTH_TEST_UNRELATED", "x") }, true},
		{"env_file content", func() { writeFile(t, filepath.Join(dir, "app.env"), "MODE=two\n") }, false},
		{"optional env_file appears", func() { writeFile(t, filepath.Join(dir, "optional.env"), "EXTRA=1\n") }, false},
		{"secret file content", func() { writeFile(t, filepath.Join(dir, "token.txt"), "t1\n") }, true},
		{"COMPOSE_PROJECT_NAME", func() { t.Setenv("COMPOSE_PROJECT_NAME", "other") }, false},
	}
	for _, ch := range changes {
		ch.change()
		want := fullDesired(t, o)
		got, hit := planLoad(t, o, c)
		if hit {
			t.Fatalf("%s changed: the plan cache answered", ch.name)
		}
		if got != want {
			t.Fatalf("%s changed: desired state differs from a full load", ch.name)
		}
		if (got == prev) != ch.same {
			t.Fatalf("%s changed: desired state changed = %v, want %v", ch.name, got != prev, !ch.same)
		}
		if again, hit := planLoad(t, o, c); !hit || again != want {
			t.Fatalf("%s changed: the next plan was not answered from the cache (hit %v)", ch.name, hit)
		}
		prev = got
	}
	if got, hit := planLoad(t, LoadOptions{Dir: dir, OSEnv: true, Profiles: []string{"debug"}}, c); hit || got == "" {
		t.Fatal("another profile was answered from the plan cache")
	}
}

// TestPlanCacheNeverRemembers: loads whose desired state depends on what an
// entry does not track, or that read a host secret, are loaded every time.
func TestPlanCacheNeverRemembers(t *testing.T) {
	cases := map[string]map[string]string{
		"env template": {
			"compose.yaml":  "services:\n  web:\n    image: berthtest/app:1.0\n    env_file: [app.env.tmpl]\n",
			"app.env.tmpl":  "TOKEN={{ secret \"token\" }}\n",
			"secrets/token": "s3cret-canary",
		},
		"interpolation template": {
			"compose.yaml":  "services:\n  web:\n    image: berthtest/app:1.0\n    environment:\n      TOKEN: ${TOKEN}\n",
			".env.tmpl":     "TOKEN={{ secret \"token\" }}\n",
			"secrets/token": "s3cret-canary",
		},
		"unset variable warning": {
			"compose.yaml": "services:\n  web:\n    image: berthtest/app:${BERTH_TEST_NEVER_SET}\n",
		},
		"include": {
			"compose.yaml":       "include: [other/compose.yaml]\nservices:\n  web:\n    image: berthtest/app:1.0\n",
			"other/compose.yaml": "services:\n  db:\n    image: berthtest/app:1.0\n",
		},
		"develop.watch through a symbolic link": {
			"compose.yaml": "services:\n  web:\n    image: berthtest/app:1.0\n    develop:\n      watch:\n        - path: ./src\n          action: rebuild\n",
		},
		"service reference": {
			"compose.yaml": "services:\n  web:\n    image: berthtest/app:1.0\n  side:\n    image: berthtest/app:1.0\n    network_mode: service:web\n",
		},
	}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "stack")
			for f, content := range files {
				if strings.HasPrefix(f, "secrets/") {
					writeFile(t, filepath.Join(root, f), content)
					continue
				}
				writeFile(t, filepath.Join(dir, f), content)
			}
			o := LoadOptions{Dir: dir, SecretsDir: filepath.Join(root, "secrets"), RenderDir: filepath.Join(root, "render")}
			c := planCaches(t)
			planLoad(t, o, c)
			if _, hit := planLoad(t, o, c); hit {
				t.Fatal("answered from the plan cache")
			}
			if entries, _ := os.ReadDir(c.plans.dir); len(entries) != 0 {
				t.Fatalf("the plan cache holds %d entries", len(entries))
			}
		})
	}
}

// TestPlanCacheHoldsNoValue: an entry holds hashes and names, never an
// environment value.
func TestPlanCacheHoldsNoValue(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stack")
	writeFile(t, filepath.Join(dir, "compose.yaml"), "services:\n  web:\n    image: berthtest/app:1.0\n    environment:\n      PASSWORD: ${PASSWORD}\n    env_file: [app.env]\n")
	writeFile(t, filepath.Join(dir, ".env"), "PASSWORD=canary-from-dotenv\n")
	writeFile(t, filepath.Join(dir, "app.env"), "API_KEY=canary-from-env-file\n")
	c := planCaches(t)
	planLoad(t, LoadOptions{Dir: dir}, c)
	entries, err := os.ReadDir(c.plans.dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("want one entry: %v %v", entries, err)
	}
	b, err := os.ReadFile(filepath.Join(c.plans.dir, entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "canary") {
		t.Fatalf("the entry holds a value:\n%s", b)
	}
	for _, content := range []string{"PASSWORD=canary-from-dotenv\n", "API_KEY=canary-from-env-file\n"} {
		sum := sha256.Sum256([]byte(content))
		if strings.Contains(string(b), hex.EncodeToString(sum[:])) {
			t.Fatalf("the entry holds the digest of a file's bytes:\n%s", b)
		}
	}
	if st, _ := os.Stat(c.plans.dir); st.Mode().Perm() != 0o700 {
		t.Fatalf("cache folder mode %v, want 0700", st.Mode().Perm())
	}
}

// TestPlanCacheInputsChangedDuringLoad: a file edited while a load runs may
// have been read either way, so that load is not remembered.
func TestPlanCacheInputsChangedDuringLoad(t *testing.T) {
	for _, name := range []string{"compose.yaml", "app.env"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "stack")
			compose := "services:\n  web:\n    image: berthtest/app:1.0\n    env_file: [app.env]\n"
			writeFile(t, filepath.Join(dir, "compose.yaml"), compose)
			writeFile(t, filepath.Join(dir, "app.env"), "MODE=one\n")
			afterPlanLoad = func() {
				path := filepath.Join(dir, name)
				b, err := os.ReadFile(path)
				if err != nil {
					t.Error(err)
				}
				writeFile(t, path, string(b)+"# edited during the load\n")
			}
			defer func() { afterPlanLoad = nil }()
			c := planCaches(t)
			planLoad(t, LoadOptions{Dir: dir}, c)
			if entries, _ := os.ReadDir(c.plans.dir); len(entries) != 0 {
				t.Fatalf("a load whose %s changed meanwhile was remembered", name)
			}
		})
	}
}

// TestPlanCacheSharedFolder: a cache folder that others may enter is not
// used, so nobody else's entry can make a plan lie.
func TestPlanCacheSharedFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stack")
	writeFile(t, filepath.Join(dir, "compose.yaml"), "services:\n  web:\n    image: berthtest/app:1.0\n")
	c := planCaches(t)
	o := LoadOptions{Dir: dir}
	planLoad(t, o, c)
	if _, hit := planLoad(t, o, c); !hit {
		t.Fatal("a private cache folder was not used")
	}
	if err := os.Chmod(c.plans.dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, hit := planLoad(t, o, c); hit {
		t.Fatal("a cache folder others may write to answered")
	}
	if err := os.RemoveAll(c.plans.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(c.plans.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	planLoad(t, o, c)
	if entries, _ := os.ReadDir(c.plans.dir); len(entries) != 0 {
		t.Fatal("an entry was written to a cache folder others may enter")
	}
}

// TestPlanCacheRacyFile: a file the services read that changed within a
// clock tick of the load may change again with the same times, so the load
// is not remembered until the file has settled.
func TestPlanCacheRacyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stack")
	writeFile(t, filepath.Join(dir, "compose.yaml"), "services:\n  web:\n    image: berthtest/app:1.0\n    env_file: [app.env]\n")
	writeFile(t, filepath.Join(dir, "app.env"), "MODE=one\n")
	c := planCaches(t)
	racyMargin = time.Hour
	planLoad(t, LoadOptions{Dir: dir}, c)
	if entries, _ := os.ReadDir(c.plans.dir); len(entries) != 0 {
		t.Fatal("a load that read a file changed a moment ago was remembered")
	}
	racyMargin = 0
	planLoad(t, LoadOptions{Dir: dir}, c)
	if _, hit := planLoad(t, LoadOptions{Dir: dir}, c); !hit {
		t.Fatal("a load of settled files was not remembered")
	}
}
