package compose_test

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/load"
	"github.com/compose-spec/compose-go/v2/types"
)

// The hash corpus lives in testdata/hash/NN-name. Its golden files come from
// the real docker compose v2.40.3 CLI (testdata/hash/regen.sh):
// config-hash.golden is `config --hash '*'`, create-hash.golden is the label
// `create` put on each container, create-ids.golden the container IDs that
// create substituted for service references.
//
// Resolved paths (bind-mount sources, include and extends folders) are
// absolute in the hash, so regen.sh loaded every case from a copy at
// hashCorpusRoot/NN-name, and this test loads from the same place.
const hashCorpusRoot = "/tmp/berth-hash-corpus"

// wantConfigCreateDiffs is how many services get a different hash from
// `config --hash` than from `create`. berth follows `create`, which is what
// the engine carries. They differ because `create` hashes the service as it
// is about to be created:
//   - 7 services use env_file (04-env-file: 3, 23-include: redis,
//     29-production-stack: app, migrate, worker through an anchor): create
//     merges the files into environment and drops env_file, config --hash
//     keeps env_file as absolute paths.
//   - 2 services refer to another service's container (11-shared-namespaces:
//     sidecar's network_mode/ipc/pid "service:main", backup's volumes_from):
//     create hashes them with the container ID in place of the service name.
//
// Value-less environment entries (03-environment env-bare) hash the same in
// both: compose-go resolves them from the project environment while it loads.
const wantConfigCreateDiffs = 9

func TestServiceHashCorpusSize(t *testing.T) {
	cases := hashCases(t)
	if len(cases) < 25 {
		t.Fatalf("hash corpus has %d cases, want at least 25", len(cases))
	}
}

func TestServiceHash(t *testing.T) {
	diffs := 0
	for _, name := range hashCases(t) {
		t.Run(name, func(t *testing.T) {
			diffs += checkHashCase(t, name)
		})
	}
	if !t.Failed() && diffs != wantConfigCreateDiffs {
		t.Errorf("config --hash and create disagree on %d services, want %d: update the comment on wantConfigCreateDiffs", diffs, wantConfigCreateDiffs)
	}
}

func TestServiceHashKeepsReplicas(t *testing.T) {
	replicas := 3
	s := types.ServiceConfig{Name: "web", Image: "berthhash/web:1.0", Deploy: &types.DeployConfig{Replicas: &replicas}}
	if _, err := compose.ServiceHash(s); err != nil {
		t.Fatal(err)
	}
	if s.Deploy.Replicas == nil || *s.Deploy.Replicas != 3 {
		t.Fatal("ServiceHash cleared the caller's deploy.replicas")
	}
}

// checkHashCase loads one case as berth does and compares every service's
// hash with the CLI's. It returns how many services the CLI's two hashes
// disagree on.
func checkHashCase(t *testing.T, name string) int {
	src := filepath.Join("testdata", "hash", name)
	dir := filepath.Join(hashCorpusRoot, name)
	mirrorHashCase(t, src, dir)

	o := load.LoadOptions{Dir: dir, ProjectName: "berthhash" + name[:2]}
	if isFile(filepath.Join(src, "compose.production.yaml")) {
		o.Env = "production"
	}
	p, err := load.Load(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}

	configHashes := readHashGolden(t, filepath.Join(src, "config-hash.golden"))
	if got, want := p.ServiceNames(), slices.Sorted(maps.Keys(configHashes)); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("services: got %v, the CLI loaded %v", got, want)
	}
	createPath := filepath.Join(src, "create-hash.golden")
	if !isFile(createPath) {
		// config-only case: the engine cannot create it; no env_file or
		// service references here, so both loads agree.
		for _, svc := range p.ServiceNames() {
			assertHash(t, "config --hash", svc, p.Services[svc], configHashes[svc])
		}
		return 0
	}
	createHashes := readHashGolden(t, createPath)
	ids := map[string]string{}
	if idsPath := filepath.Join(src, "create-ids.golden"); isFile(idsPath) {
		ids = readHashGolden(t, idsPath)
	}
	diffs := 0
	for _, svc := range p.ServiceNames() {
		s := p.Services[svc]
		assertHash(t, "create", svc, compose.WithContainerRefs(s, ids), createHashes[svc])
		if configHashes[svc] != createHashes[svc] {
			diffs++
			continue
		}
		assertHash(t, "config --hash", svc, s, configHashes[svc])
	}
	return diffs
}

func assertHash(t *testing.T, cli, name string, s types.ServiceConfig, want string) {
	t.Helper()
	got, err := compose.ServiceHash(s)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	if got != want {
		t.Errorf("service %s: hash %s, docker compose %s wrote %s", name, got, cli, want)
	}
}

// hashCases lists the corpus folders.
func hashCases(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("testdata", "hash"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) > 3 && e.Name()[2] == '-' {
			names = append(names, e.Name())
		}
	}
	return names
}

// readHashGolden reads "NAME VALUE" lines.
func readHashGolden(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		m[name] = value
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// mirrorHashCase makes dst hold exactly src's files (goldens aside), as
// regen.sh's copy did. Files are replaced by rename and never removed first,
// so two test runs on the machine at once only ever see complete files.
func mirrorHashCase(t *testing.T, src, dst string) {
	t.Helper()
	keep := map[string]bool{".": true}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || strings.HasSuffix(path, ".golden") {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		keep[rel] = true
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return copyFileAtomic(path, filepath.Join(dst, rel))
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
	err = filepath.WalkDir(dst, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dst, path)
		if err != nil || keep[rel] || strings.HasPrefix(d.Name(), tmpPrefix) {
			return err
		}
		if err := os.RemoveAll(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatalf("prune %s: %v", dst, err)
	}
}

// tmpPrefix names copies in progress, which a concurrent prune leaves alone.
const tmpPrefix = ".berthhash-"

func copyFileAtomic(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), tmpPrefix+"*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
