package compose

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/consts"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// Most of a load's CPU goes to compose-go compiling its JSON schema and
// validating the model against it, and a plan of an unchanged stack loads
// the same files every time. Validation is a pure function of the files and
// of the values interpolated into them, so validCache remembers inputs that
// validated once and the next load of the very same inputs skips it.
//
// Two kinds of entries, both named by a SHA-256 digest:
//   - per set of files (compose-go build, working directory, project name
//     and profiles asked for, COMPOSE_PROJECT_NAME, each config file's path
//     and bytes): the names of the variables their interpolation looked up,
//     as a JSON list;
//   - per set of files and values of those variables: an empty file saying
//     that these inputs validated.
//
// Only variable names (which the compose files spell out anyway) and
// digests are stored, never a value; and a load whose interpolation looked
// up a value from a host secret or a sops file is not stored at all, so
// that not even a digest of a secret lands in the cache. A hit skips the
// schema validation only: env templates and sops files are rendered before
// the inputs are digested (their values feed interpolation) and after the
// model is loaded (env_file, secrets, configs), on both paths. Recording the lookups rather than
// digesting the whole environment keeps a hit when an unrelated variable
// changes (OLDPWD, a terminal's session ID). Models whose validation reads
// anything else are never remembered: an `include` or an `extends` from
// another file reads files the digest does not cover, and a top-level
// `version` is dropped (with a warning) by the validation step itself.
type validCache struct {
	dir string
}

// cacheFormat changes whenever the makeup of the digests does.
const cacheFormat = "berth-compose-validated/2"

// maxCacheEntries bounds the cache: past it, the older half is removed.
const maxCacheEntries = 1024

// userValidCache is the cache in BERTH_CACHE_DIR, or else in the user's
// cache folder ($XDG_CACHE_HOME/berth, ~/.cache/berth); nil when there is
// none.
func userValidCache() *validCache {
	base := userCacheBase()
	if base == "" {
		return nil
	}
	return &validCache{dir: filepath.Join(base, "compose-validated")}
}

// userCacheBase is BERTH_CACHE_DIR, or else berth's folder in the user's
// cache folder; "" when there is none.
func userCacheBase() string {
	if dir := os.Getenv("BERTH_CACHE_DIR"); dir != "" {
		return dir
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(base, "berth")
}

// loadInputs are what a load's validation depends on, besides the values of
// the variables it looks up.
type loadInputs struct {
	files    string        // digest of everything but the environment
	env      types.Mapping // the interpolation environment, before loading
	contents [][]byte      // the config files
}

// inputs reads what validating opts depends on, with the profiles asked for.
// It fails when a config file cannot be read or the compose-go build is
// unknown: the load then simply validates.
func (c *validCache) inputs(opts *cli.ProjectOptions, profiles []string) (*loadInputs, bool) {
	version := composeGoVersion()
	if c == nil || version == "" {
		return nil, false
	}
	d := newDigest()
	d.field(cacheFormat)
	d.field(version)
	d.field(opts.WorkingDir)
	d.field(opts.Name)
	d.list(profiles)
	name, named := opts.Environment[consts.ComposeProjectName]
	d.value(name, named)
	in := &loadInputs{env: maps.Clone(opts.Environment)}
	d.count(len(opts.ConfigPaths))
	for _, path := range opts.ConfigPaths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, false
		}
		d.field(path)
		d.field(string(b))
		in.contents = append(in.contents, b)
	}
	in.files = d.sum()
	return in, true
}

// marker is the digest of the inputs with the values of the variables named.
func (in *loadInputs) marker(names []string) string {
	d := newDigest()
	d.field(in.files)
	d.list(names)
	for _, n := range names {
		v, ok := in.env[n]
		d.value(v, ok)
	}
	return d.sum()
}

// validated reports whether these inputs, with the current values of the
// variables they look up, validated before.
func (c *validCache) validated(in *loadInputs) bool {
	if !ownDir(c.dir, 0o022) {
		return false // another user could have written an entry
	}
	b, err := os.ReadFile(filepath.Join(c.dir, in.files))
	if err != nil {
		return false
	}
	var names []string
	if json.Unmarshal(b, &names) != nil {
		return false
	}
	_, err = os.Lstat(filepath.Join(c.dir, in.marker(names)))
	return err == nil
}

// add remembers that the inputs validated with the variables named looked
// up. A cache that cannot be written is no error: the next load validates.
func (c *validCache) add(in *loadInputs, names []string) {
	if os.MkdirAll(c.dir, 0o700) != nil || !ownDir(c.dir, 0o022) {
		return
	}
	list, err := json.Marshal(names)
	if err != nil || c.write(in.files, list) != nil {
		return
	}
	if c.write(in.marker(names), nil) == nil {
		c.prune()
	}
}

// write replaces an entry whole (see writeEntry).
func (c *validCache) write(name string, content []byte) error {
	return writeEntry(c.dir, name, content)
}

// prune removes the older half of the entries once there are too many.
func (c *validCache) prune() { pruneEntries(c.dir) }

// writeEntry replaces a cache entry whole, so that a concurrent reader never
// sees half of it.
func writeEntry(dir, name string, content []byte) error {
	f, err := os.CreateTemp(dir, ".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// pruneEntries removes the older half of a cache folder's entries once
// there are more than maxCacheEntries.
func pruneEntries(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) <= maxCacheEntries {
		return
	}
	type aged struct {
		name string
		mod  int64
	}
	var all []aged
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			all = append(all, aged{e.Name(), info.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(a.mod, b.mod) })
	for _, e := range all[:max(0, len(all)-maxCacheEntries/2)] {
		_ = os.Remove(filepath.Join(dir, e.name))
	}
}

// loadRecorder watches a validated load through compose-go's options: the
// variables interpolation looks up, and whether the model reads another
// file.
type loadRecorder struct {
	names    map[string]bool
	external bool
	// secret names the variables whose values came from a host secret or
	// a sops file: a load that looks one up is not remembered, so that not
	// even a digest of a secret reaches the cache.
	secret map[string]bool
}

func (r *loadRecorder) options(o *loader.Options) {
	r.names = map[string]bool{}
	if o.Interpolate != nil && o.Interpolate.LookupValue != nil {
		lookup := o.Interpolate.LookupValue
		o.Interpolate.LookupValue = func(name string) (string, bool) {
			r.names[name] = true
			return lookup(name)
		}
	}
	o.Listeners = append(o.Listeners, func(event string, meta map[string]any) {
		switch event {
		case "include":
			r.external = true
		case "extends":
			if _, ok := meta["file"]; ok {
				r.external = true
			}
		}
	})
}

// remember adds the inputs of a load that just validated, unless validation
// depended on more than the cache covers.
func (r *loadRecorder) remember(c *validCache, in *loadInputs) {
	if r.external || slices.ContainsFunc(in.contents, declaresVersion) {
		return
	}
	for name := range r.names {
		if r.secret[name] {
			return
		}
	}
	c.add(in, slices.Sorted(maps.Keys(r.names)))
}

// declaresVersion reports whether a compose file (any of its YAML
// documents) may have a top-level `version`. In doubt it says yes.
func declaresVersion(content []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(content))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			return true
		}
		root := &doc
		if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
			root = root.Content[0]
		}
		if root.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i < len(root.Content); i += 2 {
			k := root.Content[i]
			if k.Kind != yaml.ScalarNode || k.Value == "version" || k.Value == "<<" {
				return true
			}
		}
	}
}

func skipValidation(o *loader.Options) { o.SkipValidation = true }

// composeGoVersion names the compose-go build, so that a new schema or new
// checks never trust what an older one validated: the module's version and
// checksum, or, when the binary does not record them (test binaries, a local
// replace), the binary itself, so that every rebuild starts afresh. Empty
// means no caching.
var composeGoVersion = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != "github.com/compose-spec/compose-go/v2" {
				continue
			}
			if m.Replace != nil {
				m = m.Replace
			}
			if m.Version != "" && m.Sum != "" {
				return m.Path + "@" + m.Version + " " + m.Sum
			}
		}
	}
	if exe := executableStamp(); exe != "" {
		return "binary " + exe
	}
	return ""
})

// executableStamp names the running binary by its path, size and
// modification time, so that a rebuild is another binary; "" when it cannot
// be read.
func executableStamp() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	st, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s %d %d", exe, st.Size(), st.ModTime().UnixNano())
}

// digest hashes a sequence of length-prefixed fields, so that no two
// sequences share an encoding.
type digest struct{ h hash.Hash }

func newDigest() digest { return digest{sha256.New()} }

func (d digest) count(n int) { d.h.Write(binary.AppendUvarint(nil, uint64(n))) }

func (d digest) field(s string) {
	d.count(len(s))
	io.WriteString(d.h, s)
}

func (d digest) list(ss []string) {
	d.count(len(ss))
	for _, s := range ss {
		d.field(s)
	}
}

// value digests a variable's value, set or not.
func (d digest) value(v string, set bool) {
	if !set {
		d.count(0)
		return
	}
	d.count(1)
	d.field(v)
}

func (d digest) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }
