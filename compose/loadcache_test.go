package compose

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const cacheStack = `services:
  web:
    image: berthtest/app:1.0
    environment:
      TOKEN: ${TOKEN:-none}
      ROLE: web
    networks: [backend]
    healthcheck:
      test: ["CMD", "/app", "health"]
      interval: 2s
networks:
  backend: {}
`

// cacheDir writes a stack folder with files and returns it with an empty
// validation cache.
func cacheDir(t *testing.T, files map[string]string) (string, *validCache) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "stack")
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
	return dir, &validCache{dir: filepath.Join(t.TempDir(), "cache")}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mustLoad loads o and fails unless compose-go validated it as wanted.
func mustLoad(t *testing.T, o LoadOptions, c *validCache, wantValidated bool) {
	t.Helper()
	_, validated, err := load(context.Background(), o, c)
	if err != nil {
		t.Fatal(err)
	}
	if validated != wantValidated {
		t.Fatalf("validated = %v, want %v", validated, wantValidated)
	}
}

func cacheEntries(t *testing.T, c *validCache) []string {
	t.Helper()
	entries, err := os.ReadDir(c.dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestLoadCacheHitSkipsValidation(t *testing.T) {
	dir, c := cacheDir(t, map[string]string{"compose.yaml": cacheStack})
	o := LoadOptions{Dir: dir}
	mustLoad(t, o, c, true)
	if n := len(cacheEntries(t, c)); n != 2 {
		t.Fatalf("%d cache entries after a valid load, want 2", n)
	}
	mustLoad(t, o, c, false)
}

// A cache folder other users may write to is not trusted: an entry
// there could skip the validation of any input.
func TestLoadCacheTrustsOnlyAPrivateFolder(t *testing.T) {
	dir, c := cacheDir(t, map[string]string{"compose.yaml": cacheStack})
	o := LoadOptions{Dir: dir}
	mustLoad(t, o, c, true)
	if err := os.Chmod(c.dir, 0o777); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, o, c, true)
	if err := os.Chmod(c.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, o, c, false)
}

func TestLoadCacheMissesOnAnyChange(t *testing.T) {
	dir, c := cacheDir(t, map[string]string{"compose.yaml": cacheStack, ".env": "TOKEN=a\n"})
	o := LoadOptions{Dir: dir, OSEnv: true}
	mustLoad(t, o, c, true)
	mustLoad(t, o, c, false)

	writeFile(t, filepath.Join(dir, "compose.yaml"), strings.Replace(cacheStack, "ROLE: web", "ROLE: wec", 1))
	mustLoad(t, o, c, true)
	writeFile(t, filepath.Join(dir, ".env"), "TOKEN=b\n")
	mustLoad(t, o, c, true)
	t.Setenv("TOKEN", "from-the-process")
	mustLoad(t, o, c, true)
	mustLoad(t, LoadOptions{Dir: dir, OSEnv: true, ProjectName: "other"}, c, true)
	t.Setenv("COMPOSE_PROJECT_NAME", "other2")
	mustLoad(t, o, c, true)
	mustLoad(t, LoadOptions{Dir: dir, OSEnv: true, Profiles: []string{"debug"}}, c, true)
	mustLoad(t, o, c, false)
}

// A variable the files do not use changes nothing.
func TestLoadCacheIgnoresUnusedVariables(t *testing.T) {
	dir, c := cacheDir(t, map[string]string{"compose.yaml": cacheStack})
	o := LoadOptions{Dir: dir, OSEnv: true}
	mustLoad(t, o, c, true)
	t.Setenv("BERTH_TEST_UNUSED", "1")
	mustLoad(t, o, c, false)
}

// Which variables interpolation looks up can depend on their values; a
// value that sends it down another path must validate again. The bad value
// here is one only validation rejects.
func TestLoadCacheNestedDefaults(t *testing.T) {
	stack := strings.Replace(cacheStack, "    image:", "    container_name: ${BERTH_A:-${BERTH_B:-web}}\n    image:", 1)
	dir, c := cacheDir(t, map[string]string{"compose.yaml": stack})
	o := LoadOptions{Dir: dir, OSEnv: true}
	t.Setenv("BERTH_A", "web")
	t.Setenv("BERTH_B", "-!")
	mustLoad(t, o, c, true)
	mustLoad(t, o, c, false)
	os.Unsetenv("BERTH_A")
	_, _, want := load(context.Background(), o, nil)
	if want == nil || !strings.Contains(want.Error(), "container_name") {
		t.Fatalf("container_name -! loads: %v", want)
	}
	files, _ := ConfigFiles(dir, "")
	opts, err := projectOptions(dir, files, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRenderer(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.guard, err = newFileGuard(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := loadProject(context.Background(), opts, r, nil, nil, skipValidation); err != nil {
		t.Fatalf("the case needs a value only validation rejects: %v", err)
	}
	if _, _, err := load(context.Background(), o, c); err == nil || err.Error() != want.Error() {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func TestLoadCacheOverlayAndEnvFile(t *testing.T) {
	dir, c := cacheDir(t, map[string]string{
		"compose.yaml":            cacheStack,
		"compose.production.yaml": "services:\n  web:\n    environment:\n      ROLE: prod\n",
		"production.env":          "TOKEN=p\n",
	})
	o := LoadOptions{Dir: dir, Env: "production"}
	mustLoad(t, o, c, true)
	mustLoad(t, o, c, false)
	writeFile(t, filepath.Join(dir, "compose.production.yaml"), "services:\n  web:\n    environment:\n      ROLE: prod2\n")
	mustLoad(t, o, c, true)
	writeFile(t, filepath.Join(dir, "production.env"), "TOKEN=q\n")
	mustLoad(t, o, c, true)
	mustLoad(t, LoadOptions{Dir: dir}, c, true)
}

func TestLoadCacheNeverKeepsBadFiles(t *testing.T) {
	bad := map[string]string{
		"unknown field":     strings.Replace(cacheStack, "    image:", "    imagee: x\n    image:", 1),
		"wrong type":        strings.Replace(cacheStack, "interval: 2s", "interval: [2s]", 1),
		"undefined network": strings.Replace(cacheStack, "networks: [backend]", "networks: [front]", 1),
		"invalid yaml":      cacheStack + "  : :\n",
	}
	for name, content := range bad {
		t.Run(name, func(t *testing.T) {
			dir, c := cacheDir(t, map[string]string{"compose.yaml": content})
			_, _, want := load(context.Background(), LoadOptions{Dir: dir}, nil)
			if want == nil {
				t.Fatal("the file loads without a cache")
			}
			for range 2 {
				_, _, err := load(context.Background(), LoadOptions{Dir: dir}, c)
				if err == nil || err.Error() != want.Error() {
					t.Fatalf("error %v, want %v", err, want)
				}
			}
			if entries := cacheEntries(t, c); len(entries) != 0 {
				t.Fatalf("a bad file entered the cache: %v", entries)
			}
		})
	}
}

// Should a known input fail to load anyway (a cache entry written by hand),
// the error is still the validated load's, not the one an unvalidated load
// stumbles on.
func TestLoadCachePoisonedEntry(t *testing.T) {
	content := strings.Replace(cacheStack, "interval: 2s", "interval: [2s]", 1)
	dir, c := cacheDir(t, map[string]string{"compose.yaml": content})
	_, _, want := load(context.Background(), LoadOptions{Dir: dir}, nil)
	if want == nil {
		t.Fatal("the file loads")
	}
	files, _ := ConfigFiles(dir, "")
	opts, err := projectOptions(dir, files, nil, LoadOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	in, ok := c.inputs(opts, nil)
	if !ok {
		t.Fatal("inputs not digested")
	}
	c.add(in, nil)
	if _, _, err := load(context.Background(), LoadOptions{Dir: dir}, c); err == nil || err.Error() != want.Error() {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func TestLoadCacheUnwritableFallsBack(t *testing.T) {
	dir, _ := cacheDir(t, map[string]string{"compose.yaml": cacheStack})
	blocker := filepath.Join(t.TempDir(), "file")
	writeFile(t, blocker, "")
	c := &validCache{dir: filepath.Join(blocker, "cache")} // a folder under a file cannot exist
	mustLoad(t, LoadOptions{Dir: dir}, c, true)
	mustLoad(t, LoadOptions{Dir: dir}, c, true)
}

func TestLoadCacheStoresNoValues(t *testing.T) {
	const secret = "s3cr3t-value-of-token"
	dir, c := cacheDir(t, map[string]string{"compose.yaml": cacheStack, ".env": "TOKEN=" + secret + "\n"})
	t.Setenv("BERTH_TEST_SECRET", secret)
	mustLoad(t, LoadOptions{Dir: dir, OSEnv: true}, c, true)
	mustLoad(t, LoadOptions{Dir: dir, OSEnv: true}, c, false)
	var names []string
	err := filepath.WalkDir(filepath.Dir(c.dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, info.Mode().Perm())
		}
		if b, err := hex.DecodeString(d.Name()); err != nil || len(b) != 32 {
			t.Errorf("%s: not named by a SHA-256 digest", path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds the value: %s", path, b)
		}
		if len(b) > 0 {
			if err := json.Unmarshal(b, &names); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"TOKEN"}) {
		t.Errorf("recorded variables %v, want [TOKEN]", names)
	}
}

// Models that read files the digest does not cover, or whose `version`
// only validation drops, are validated on every load.
func TestLoadCacheSkipsUncoveredModels(t *testing.T) {
	cases := map[string]map[string]string{
		"include": {
			"compose.yaml": "include: [infra.yaml]\n" + cacheStack,
			"infra.yaml":   "services:\n  db:\n    image: berthtest/app:1.0\n",
		},
		"extends file": {
			"compose.yaml": strings.Replace(cacheStack, "    image: berthtest/app:1.0\n", "    extends: {file: base.yaml, service: base}\n", 1),
			"base.yaml":    "services:\n  base:\n    image: berthtest/app:1.0\n",
		},
		"version": {"compose.yaml": "version: \"3.8\"\n" + cacheStack},
	}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			dir, c := cacheDir(t, files)
			mustLoad(t, LoadOptions{Dir: dir}, c, true)
			mustLoad(t, LoadOptions{Dir: dir}, c, true)
		})
	}
	t.Run("extends same file", func(t *testing.T) {
		dir, c := cacheDir(t, map[string]string{"compose.yaml": strings.Replace(cacheStack, "networks:\n", "  worker:\n    extends: web\nnetworks:\n", 1)})
		mustLoad(t, LoadOptions{Dir: dir}, c, true)
		mustLoad(t, LoadOptions{Dir: dir}, c, false)
	})
}

// A hit gives the very project a validated load gives, on every case of
// the hash corpus.
func TestLoadCacheSameProject(t *testing.T) {
	hits := 0
	for _, name := range hashCases(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "hash", name)
			o := LoadOptions{Dir: dir, ProjectName: "berthhash" + name[:2]}
			if isFile(filepath.Join(dir, "compose.production.yaml")) {
				o.Env = "production"
			}
			want, _, wantErr := load(context.Background(), o, nil)
			c := &validCache{dir: t.TempDir()}
			for range 2 {
				got, validated, err := load(context.Background(), o, c)
				if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
					t.Fatalf("error %v, want %v", err, wantErr)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatal("the project differs from a load without the cache")
				}
				if !validated {
					hits++
				}
			}
		})
	}
	// All but 22-extends and 23-include, which read other files.
	if want := len(hashCases(t)) - 2; hits != want {
		t.Errorf("%d cases loaded from the cache, want %d", hits, want)
	}
}

func TestLoadUsesBerthCacheDir(t *testing.T) {
	dir, _ := cacheDir(t, map[string]string{"compose.yaml": cacheStack})
	t.Setenv("BERTH_CACHE_DIR", t.TempDir())
	c := userValidCache()
	if _, err := Load(context.Background(), LoadOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if n := len(cacheEntries(t, c)); n != 2 {
		t.Fatalf("%d entries in BERTH_CACHE_DIR, want 2", n)
	}
}

func TestDeclaresVersion(t *testing.T) {
	for content, want := range map[string]bool{
		cacheStack:                             false,
		"version: '3'\n" + cacheStack:          true,
		"---\nservices: {}\n---\nversion: 3\n": true,
		"x-base: &b {version: 1}\n<<: *b\n":    true,
		"services: {}\n  bad: [\n":             true,
		"services:\n  version: {image: a}\n":   false,
	} {
		if got := declaresVersion([]byte(content)); got != want {
			t.Errorf("declaresVersion(%q) = %v, want %v", content, got, want)
		}
	}
}

// A load whose interpolation looks up a value from a host secret or a
// sops file is not remembered: not even a digest of a secret reaches the
// cache. One that only renders env files for services still is.
func TestLoadCacheKeepsNoSecretDigest(t *testing.T) {
	dir, c := cacheDir(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: berthtest/app:1.0\n    environment:\n      PW: ${PW}\n",
		".env.tmpl":    "PW={{ secret \"pw\" }}\n",
	})
	secrets := t.TempDir()
	writeFile(t, filepath.Join(secrets, "pw"), "canary-cache-2c9e\n")
	o := LoadOptions{Dir: dir, SecretsDir: secrets, RenderDir: filepath.Join(t.TempDir(), "render")}
	mustLoad(t, o, c, true)
	mustLoad(t, o, c, true)

	writeFile(t, filepath.Join(dir, "compose.yaml"), "services:\n  web:\n    image: berthtest/app:1.0\n    env_file: app.env.tmpl\n")
	writeFile(t, filepath.Join(dir, "app.env.tmpl"), "PW={{ secret \"pw\" }}\n")
	mustLoad(t, o, c, true)
	mustLoad(t, o, c, false)
	// A cache hit still renders: the secret's new value arrives.
	writeFile(t, filepath.Join(secrets, "pw"), "canary-cache-new\n")
	p, validated, err := load(context.Background(), o, c)
	if err != nil || validated || *p.Services["web"].Environment["PW"] != "canary-cache-new" {
		t.Fatalf("cache hit: validated=%v err=%v env=%v", validated, err, p.Services["web"].Environment)
	}
}
