package compose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
)

// A stack's desired state is a function of its files, of the environment
// and of berth's own code. Loading the files through compose-go is most of
// what `berth plan` costs on a stack that did not change, so planCache
// remembers the desired state of a load, and LoadDesired answers from it
// when every input is the same as then.
//
// An entry is named by a digest of the inputs known before loading: this
// berth build, the load options, the paths and bytes of the compose files
// and of the interpolation env files, and the whole interpolation
// environment with $HOME. It holds what the load read besides: each service's
// env_file and each secret or config file, stamped by path, size, inode and
// modification and change times (or its absence), checked again on every
// hit. So editing any input, rebuilding berth, or exporting a variable gives
// a miss and a full load. The key and the stamps are read again once the
// load is done, and a load whose inputs changed meanwhile is not remembered.
//
// What an entry holds is what docker compose already writes on every
// container's labels (config hashes, short hashes per field, names, image
// references), the engine API versions the stack's fields need, and file
// stamps; never a value, nor a digest of a file that services read. The key
// digests the environment, values included, with everything else, as the
// config hash on a container does. A load is not remembered when it
// rendered an env template or decrypted a sops file (host secrets, whose
// digests stay out of the cache), read a file the entry cannot track (an
// `include`, an `extends` from another file, a develop.watch path, which
// compose-go resolves through symbolic links), or made compose-go print a
// warning (a hit would not print it again). The cache folder is used only
// when it belongs to the user and nobody else may enter it.
type planCache struct {
	dir string
}

// planFormat changes whenever the makeup of the key or the entry does.
const planFormat = "berth-plan/1"

// racyMargin: file times come from a clock that advances by ticks of up to
// 10 ms, so a file changed within a tick of its stamp may change again with
// the same times. A load that read a file changed this recently is not
// remembered (git's "racily clean" files). Tests shorten it.
var racyMargin = 100 * time.Millisecond

// userPlanCache is the plan cache beside the validation cache; nil when
// there is none.
func userPlanCache() *planCache {
	base := userCacheBase()
	if base == "" {
		return nil
	}
	return &planCache{dir: filepath.Join(base, "compose-plans")}
}

// planEntry is one remembered load.
type planEntry struct {
	Format  string              `json:"format"`
	Stamps  []fileStamp         `json:"stamps"`
	Desired *Desired            `json:"desired"`
	Engine  []EngineRequirement `json:"engine"`
}

// fileStamp is a file a load read, as it was: what its metadata says of
// its identity and its last change, or "" when it did not exist. Writing a
// file always moves its change time, which no program can set back, and
// replacing it gives another inode; the stamp holds nothing of the bytes,
// which may be secrets.
type fileStamp struct {
	Path string `json:"path"`
	Meta string `json:"meta"`
}

// stamp reads a file's stamp and its change time; false when the file
// cannot be tracked (not a regular file, or no change time on this system).
func stamp(path string) (fileStamp, time.Time, bool) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileStamp{Path: path}, time.Time{}, true
	}
	if err != nil || !st.Mode().IsRegular() {
		return fileStamp{}, time.Time{}, false
	}
	meta, changed, ok := fileMeta(st)
	if !ok {
		return fileStamp{}, time.Time{}, false
	}
	return fileStamp{Path: path, Meta: meta}, changed, true
}

// key digests the inputs of a load known before it runs, with env the
// interpolation environment (which compose-go's load adds to); "" when one
// cannot be read or this binary cannot be told from another build.
func (c *planCache) key(o LoadOptions, opts *cli.ProjectOptions, env types.Mapping, sources []string) string {
	build := buildIdentity()
	if c == nil || build == "" {
		return ""
	}
	d := newDigest()
	d.field(planFormat)
	d.field(build)
	d.field(opts.WorkingDir)
	d.field(o.ProjectName)
	d.field(o.Env)
	d.list(o.EnvFiles)
	d.list(o.Profiles)
	d.list([]string{fmt.Sprint(o.OSEnv), o.SecretsDir, o.AgeKeyFile, o.Stack})
	d.list(o.SharedSecrets)
	// A grant the host takes back must not be answered from the cache.
	d.list(o.HostPaths)
	home, ok := os.LookupEnv("HOME")
	d.value(home, ok)
	for _, group := range [][]string{opts.ConfigPaths, sources} {
		d.count(len(group))
		for _, path := range group {
			b, err := os.ReadFile(path)
			if err != nil {
				return ""
			}
			d.field(path)
			d.field(string(b))
		}
	}
	names := slices.Sorted(maps.Keys(env))
	d.count(len(names))
	for _, k := range names {
		d.field(k)
		d.field(env[k])
	}
	return d.sum()
}

// private reports whether the cache folder belongs to this user and no one
// else may enter it, so that nobody else can have written an entry.
func (c *planCache) private() bool { return ownDir(c.dir, 0o077) }

// ownDir reports whether dir is a folder of this user with none of the
// permission bits in others set.
func ownDir(dir string, others fs.FileMode) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir() && st.Mode().Perm()&others == 0 && ownedByMe(st)
}

// lookup returns the entry for key when every file it read is as it was.
func (c *planCache) lookup(key string) *planEntry {
	if !c.private() {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(c.dir, key))
	if err != nil {
		return nil
	}
	var e planEntry
	if json.Unmarshal(b, &e) != nil || e.Format != planFormat || e.Desired == nil {
		return nil
	}
	for _, s := range e.Stamps {
		if now, _, ok := stamp(s.Path); !ok || now != s {
			return nil
		}
	}
	return &e
}

// store remembers an entry. A cache that cannot be written is no error:
// the next plan loads the files.
func (c *planCache) store(key string, e *planEntry) {
	e.Format = planFormat
	b, err := json.Marshal(e)
	if err != nil || os.MkdirAll(c.dir, 0o700) != nil || !c.private() {
		return
	}
	if writeEntry(c.dir, key, b) == nil {
		pruneEntries(c.dir)
	}
}

// loadTrace is what a load read besides the inputs of its key, and whether
// its result may be remembered.
type loadTrace struct {
	stamps      []fileStamp
	newest      time.Time // the latest change of a stamped file
	untrackable bool
}

// stampFiles records the files the project's services read: env_file (read
// when the environment is resolved) and the files of secrets and configs
// (read to tell a sops file).
func (t *loadTrace) stampFiles(paths []string) {
	for _, p := range paths {
		s, changed, ok := stamp(p)
		if !ok {
			t.untrackable = true
			continue
		}
		t.stamps = append(t.stamps, s)
		if changed.After(t.newest) {
			t.newest = changed
		}
	}
}

// settled reports whether every stamped file is still as it was and last
// changed long enough ago for its stamp to be sure (see racyMargin).
func (t *loadTrace) settled() bool {
	if time.Since(t.newest) < racyMargin {
		return false
	}
	for _, s := range t.stamps {
		if now, _, ok := stamp(s.Path); !ok || now != s {
			return false
		}
	}
	return true
}

// watchesPaths reports a service with develop.watch, whose paths compose-go
// resolves through symbolic links that no stamp follows.
func watchesPaths(p *types.Project) bool {
	for _, s := range p.Services {
		if s.Develop != nil {
			return true
		}
	}
	return false
}

// buildIdentity tells this berth build from any other: the binary's path,
// size and modification time, and what the build recorded of itself (module
// versions and sums, build flags including -ldflags, version control
// state). Empty means no plan caching.
var buildIdentity = sync.OnceValue(func() string {
	id := executableStamp()
	if id == "" {
		return ""
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		id += "\n" + bi.String()
	}
	return id
})

// compose-go reports some findings only as log warnings ("variable is not
// set"); warnCount counts them, so that a load that printed one is not
// remembered and the next plan prints it again.
var (
	warnCount     atomic.Int64
	countWarnings = sync.OnceFunc(func() { logrus.AddHook(warnCounter{}) })
)

type warnCounter struct{}

func (warnCounter) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (warnCounter) Fire(*logrus.Entry) error {
	warnCount.Add(1)
	return nil
}

// LoadDesired is the desired state of the stack folder and the engine API
// versions its fields need, for a plan: from the plan cache when every
// input is as it was at a load that remembered it (see planCache), else
// from a full Load, which is then remembered. Load errors are *LoadError.
func LoadDesired(ctx context.Context, o LoadOptions) (*Desired, []EngineRequirement, error) {
	l, err := loadStack(ctx, o, caches{valid: userValidCache(), plans: userPlanCache()}, true)
	if err != nil {
		return nil, nil, loadError(o, err)
	}
	if l.desired == nil {
		d, err := NewDesired(l.project)
		if err != nil {
			return nil, nil, err
		}
		return d, EngineRequirements(l.project), nil
	}
	return l.desired, l.engine, nil
}
