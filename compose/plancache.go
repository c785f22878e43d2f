package compose

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/sirupsen/logrus"
)

// A stack's desired state is a function of its files, of the environment
// and of berth's own code. Loading the files through compose-go is most of
// what `berth plan` costs on a stack that did not change, so planCache
// remembers the desired state of a load, and LoadDesired answers from it
// when every input is the same as then.
//
// An entry is named by a digest of the inputs known before loading: this
// berth binary, the load options, the paths and bytes of the compose files
// and of the interpolation env files, and the whole interpolation
// environment with $HOME. It holds what the load read besides: each service's
// env_file and each secret or config file, by path and a digest of its
// bytes (or its absence), checked again on every hit. So editing any input,
// rebuilding berth, or exporting a variable gives a miss and a full load.
//
// What an entry holds is what docker compose already writes on every
// container's labels (config hashes, short hashes per field, names, image
// references) and the engine API versions the stack's fields need; never a
// value. The key digests the environment, values included, as the config
// hash on a container does. A load is not remembered when it rendered an
// env template or decrypted a sops file (host secrets, whose digests stay
// out of the cache), read a file the entry cannot track (an `include`, an
// `extends` from another file), or made compose-go print a warning (a hit
// would not print it again).
type planCache struct {
	dir string
}

// planFormat changes whenever the makeup of the key or the entry does.
const planFormat = "berth-plan/1"

// maxStampedFile bounds the files an entry tracks: a load that reads a
// bigger one is not remembered.
const maxStampedFile = 1 << 20

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

// fileStamp is a file a load read, as it was: the digest of its bytes, or
// "" when it did not exist.
type fileStamp struct {
	Path string `json:"path"`
	Sum  string `json:"sum"`
}

// stamp reads a file's stamp; false when the file cannot be tracked (not
// readable, not a regular file, too big).
func stamp(path string) (fileStamp, bool) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileStamp{Path: path}, true
	}
	if err != nil || !st.Mode().IsRegular() || st.Size() > maxStampedFile {
		return fileStamp{}, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fileStamp{}, false
	}
	sum := sha256.Sum256(b)
	return fileStamp{Path: path, Sum: hex.EncodeToString(sum[:])}, true
}

// key digests the inputs of a load known before it runs; "" when one
// cannot be read or this binary cannot be told from another build.
func (c *planCache) key(o LoadOptions, opts *cli.ProjectOptions, sources []string) string {
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
	d.list([]string{fmt.Sprint(o.OSEnv), o.SecretsDir, o.AgeKeyFile})
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
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range opts.Environment {
			if !yield(k) {
				return
			}
		}
	})
	d.count(len(names))
	for _, k := range names {
		d.field(k)
		d.field(opts.Environment[k])
	}
	return d.sum()
}

// lookup returns the entry for key when every file it read is as it was.
func (c *planCache) lookup(key string) *planEntry {
	b, err := os.ReadFile(filepath.Join(c.dir, key))
	if err != nil {
		return nil
	}
	var e planEntry
	if json.Unmarshal(b, &e) != nil || e.Format != planFormat || e.Desired == nil {
		return nil
	}
	for _, s := range e.Stamps {
		if now, ok := stamp(s.Path); !ok || now != s {
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
	if err != nil || os.MkdirAll(c.dir, 0o700) != nil {
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
	untrackable bool
}

// stampFiles records the files the project's services read: env_file (read
// when the environment is resolved) and the files of secrets and configs
// (read to tell a sops file). It runs before they are read, so that a file
// changed meanwhile gives a stamp that no longer matches.
func (t *loadTrace) stampFiles(paths []string) {
	for _, p := range paths {
		s, ok := stamp(p)
		if !ok {
			t.untrackable = true
			continue
		}
		t.stamps = append(t.stamps, s)
	}
}

// buildIdentity tells this berth binary from any other build: its path,
// size and modification time, and the version control state it records.
// Empty means no plan caching.
var buildIdentity = sync.OnceValue(func() string {
	id := executableStamp()
	if id == "" {
		return ""
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		id += " " + bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
				id += " " + s.Value
			}
		}
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
