// Package compose turns a stack folder into the desired state of a Compose
// project, observes the live project from the Docker engine, plans the
// difference as a list of operations and applies them. It stays compatible
// with docker compose: the same labels, the same config hashes, the same
// container names.
package compose

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// defaultFileNames are the base file names looked up in a stack folder, in
// the order docker compose prefers them.
var defaultFileNames = cli.DefaultFileNames

// LoadOptions selects what to load from a stack folder.
type LoadOptions struct {
	// Dir is the stack folder.
	Dir string
	// ProjectName overrides the name; empty means `name:` or the folder name.
	ProjectName string
	// Env selects the compose.<env>.yaml overlay and the <env>.env values.
	Env string
	// EnvFiles replace the folder's .env, as --env-file does for compose.
	EnvFiles []string
	// Profiles to enable, besides COMPOSE_PROFILES.
	Profiles []string
	// OSEnv lets the process environment take part in interpolation, as it
	// does for the docker compose CLI.
	OSEnv bool
	// HostPaths are absolute host paths (files or folders) the host grants
	// to this stack: besides the stack folder, the only places its file
	// references may lead (see fileGuard).
	HostPaths []string

	// SecretsDir holds the host's secrets, one file per secret named as
	// the secret, for {{ secret "NAME" }} in env templates: a stack's own
	// in SecretsDir/<Stack>/, shared ones at the top (see SharedSecrets).
	SecretsDir string
	// Stack names the stack's own secrets folder in SecretsDir. Empty
	// reads only shared secrets.
	Stack string
	// SharedSecrets are path.Match patterns of the secrets at the top of
	// SecretsDir that the stack may read when its own folder lacks them:
	// NAME for every stack, STACK/NAME for one. None by default: a
	// template of one stack cannot read another's.
	SharedSecrets []string
	// AgeKeyFile holds the age identities that decrypt sops files. Callers
	// fall back to SOPS_AGE_KEY_FILE themselves: Load reads no variable.
	AgeKeyFile string
	// RenderDir receives the decrypted files that containers mount, and,
	// while a load runs, its rendered env files. It is created 0700 and
	// must not be inside the stack folder. Without it, a stack that has env
	// templates or sops files does not load.
	RenderDir string
	// RememberDesired remembers the desired state of a full load in the
	// plan cache, for LoadDesired (see planCache).
	RememberDesired bool

	// Redactor, when set, learns every value the load reads (see
	// Redactor), even from a load that fails, and strips the values it
	// already knew from the load's error too.
	Redactor *Redactor

	// Placeholders loads without host secrets and keys, for lint and diff:
	// each secret is "berth-placeholder-NAME", each sops value a digest of
	// its ciphertext, sops secret and config files stay as they are, and
	// nothing is written. Such a project must never be deployed.
	Placeholders bool
}

// LoadError is a stack that could not be loaded: a bad file, a missing
// variable, a field berth does not support. A person must fix the input.
type LoadError struct {
	Dir   string
	Files []string // the compose files read, when known
	Err   error
}

func (e *LoadError) Error() string {
	if len(e.Files) == 0 {
		return fmt.Sprintf("load stack %s: %v", e.Dir, e.Err)
	}
	names := make([]string, len(e.Files))
	for i, f := range e.Files {
		names[i] = filepath.Base(f)
	}
	return fmt.Sprintf("load stack %s (%s): %v", e.Dir, strings.Join(names, ", "), e.Err)
}
func (e *LoadError) Unwrap() error { return e.Err }

// IsLoadError reports whether err is a problem with the stack's files.
func IsLoadError(err error) bool {
	var le *LoadError
	return errors.As(err, &le)
}

// Load reads the stack folder into a compose project the way `docker compose
// up` reads it: paths resolved, each service's env_file merged into its
// environment, the compose labels attached. Every service field is then
// checked against what berth can convert. Inputs that validated before skip
// compose-go's schema validation (see validCache). With RememberDesired,
// the desired state is remembered for LoadDesired (see planCache).
func Load(ctx context.Context, o LoadOptions) (*types.Project, error) {
	c := caches{valid: userValidCache()}
	if o.RememberDesired {
		c.plans = userPlanCache()
	}
	l, err := loadStack(ctx, o, c, false)
	if err != nil {
		return nil, loadError(o, err)
	}
	return l.project, nil
}

// loadError names the stack folder and its compose files in a load's error.
func loadError(o LoadOptions, err error) error {
	files, _ := ConfigFiles(o.Dir, o.Env)
	return &LoadError{Dir: o.Dir, Files: files, Err: err}
}

// caches are the caches a load consults; either may be nil.
type caches struct {
	valid *validCache
	plans *planCache
}

// loaded is a load's outcome.
type loaded struct {
	// project is nil when the desired state came from the plan cache.
	project *types.Project
	// validated is false when compose-go's validation was skipped.
	validated bool
	// desired and engine are set when the load consulted the plan cache.
	desired *Desired
	engine  []EngineRequirement
}

// load loads without the plan cache and also reports whether compose-go
// validated the model: false when the cache knew the inputs.
func load(ctx context.Context, o LoadOptions, cache *validCache) (*types.Project, bool, error) {
	l, err := loadStack(ctx, o, caches{valid: cache}, false)
	if err != nil {
		return nil, true, err
	}
	return l.project, l.validated, nil
}

// loadStack loads the stack folder. With a plan cache, it answers from it
// when lookup is set and the inputs are known, and remembers the desired
// state of a full load that may be remembered. Its errors hold no secret
// value (see renderer.redact).
func loadStack(ctx context.Context, o LoadOptions, c caches, lookup bool) (_ *loaded, err error) {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	files, err := ConfigFiles(dir, o.Env)
	if err != nil {
		return nil, err
	}
	g, err := newFileGuard(dir, o.HostPaths)
	if err != nil {
		return nil, err
	}
	r, err := newRenderer(dir, o)
	if err != nil {
		return nil, err
	}
	defer r.close()
	var sources []string
	defer func() { err = r.scrub(err, append(slices.Clone(files), sources...)) }()
	sources, err = envFiles(dir, o)
	if err != nil {
		return nil, err
	}
	if err := g.checkStackFiles(files, sources, o); err != nil {
		return nil, err
	}
	envFiles, err := r.interpolation(sources)
	if err != nil {
		return nil, err
	}
	opts, err := projectOptions(dir, files, envFiles, o)
	if err != nil {
		return nil, err
	}
	if err := g.scanComposeFiles(files, dir, opts.Environment, r.rememberSubstituted); err != nil {
		return nil, err
	}
	r.guard = g
	r.red.learnInterpolation(files, o.OSEnv)
	planKey := ""
	var env types.Mapping // the environment before compose-go adds to it
	if c.plans != nil && !o.Placeholders && !r.rendered() {
		env = maps.Clone(opts.Environment)
		planKey = c.plans.key(o, opts, env, sources)
		if lookup && planKey != "" {
			if e := c.plans.lookup(planKey); e != nil {
				return &loaded{desired: e.Desired, engine: e.Engine}, nil
			}
		}
	}
	var tr *loadTrace
	if planKey != "" {
		countWarnings()
		tr = &loadTrace{}
	}
	warnings := warnCount.Load()
	p, validated, external, err := loadModel(ctx, c.valid, o, dir, files, envFiles, opts, r, sources, tr)
	if err != nil {
		return nil, err
	}
	l := &loaded{project: p, validated: validated}
	if planKey == "" {
		return l, nil
	}
	d, err := NewDesired(p)
	if err != nil {
		return l, nil // LoadDesired reports it
	}
	l.desired, l.engine = d, EngineRequirements(p)
	if external || tr.untrackable || r.rendered() || warnCount.Load() != warnings || hasRefs(d) || watchesPaths(p) {
		return l, nil
	}
	if afterPlanLoad != nil {
		afterPlanLoad()
	}
	// An input that changed while the load ran may have been read either
	// way: such a load is not remembered.
	if tr.settled() && c.plans.key(o, opts, env, sources) == planKey {
		c.plans.store(planKey, &planEntry{Stamps: tr.stamps, Desired: d, Engine: l.engine})
	}
	return l, nil
}

// afterPlanLoad, when set by a test, runs between a load and the check
// that its inputs did not change meanwhile.
var afterPlanLoad func()

// loadModel loads the project, skipping compose-go's validation when the
// validation cache knows the inputs. external reports a model that read
// another file (include, extends).
func loadModel(ctx context.Context, cache *validCache, o LoadOptions, dir string, files, envFiles []string, opts *cli.ProjectOptions, r *renderer, sources []string, tr *loadTrace) (_ *types.Project, validated, external bool, err error) {
	in, digested := cache.inputs(opts, o.Profiles)
	if digested && cache.validated(in) {
		// The cache holds no model that reads another file.
		if p, err := loadProject(ctx, opts, r, sources, tr, skipValidation); err == nil {
			return p, false, false, nil
		}
		// Known inputs that fail all the same are loaded again, validated,
		// so the error is the one compose-go gives.
		if opts, err = projectOptions(dir, files, envFiles, o); err != nil {
			return nil, true, false, err
		}
		if tr != nil {
			*tr = loadTrace{}
		}
	}
	rec := loadRecorder{secret: r.sensitive}
	p, err := loadProject(ctx, opts, r, sources, tr, rec.options)
	if err != nil {
		return nil, true, false, err
	}
	if digested {
		rec.remember(cache, in)
	}
	return p, true, rec.external, nil
}

// hasRefs reports a service whose config hash depends on other services'
// container IDs: its desired state keeps the loaded config, which holds
// values, so it is never remembered.
func hasRefs(d *Desired) bool {
	for _, s := range d.Services {
		if s.Config != nil {
			return true
		}
	}
	return false
}

// projectOptions are compose-go's options for the stack's files, with the
// interpolation environment already read.
func projectOptions(dir string, files, envFiles []string, o LoadOptions) (*cli.ProjectOptions, error) {
	fns := []cli.ProjectOptionsFn{cli.WithWorkingDirectory(dir)}
	if o.OSEnv {
		fns = append(fns, cli.WithOsEnv)
	}
	fns = append(fns,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(o.Profiles...),
		cli.WithName(o.ProjectName),
		cli.WithResolvedPaths(true),
		cli.WithoutEnvironmentResolution,
	)
	return cli.NewProjectOptions(files, fns...)
}

// loadProject loads the project, renders and decrypts what it refers to,
// merges env_file into environment, labels the services and checks that
// berth supports every field. envFiles are the interpolation files as the
// stack names them.
func loadProject(ctx context.Context, opts *cli.ProjectOptions, r *renderer, envFiles []string, tr *loadTrace, extra ...func(*loader.Options)) (*types.Project, error) {
	if err := cli.WithLoadOptions(append(extra, r.recordInterpolation)...)(opts); err != nil {
		return nil, err
	}
	if r.guard == nil {
		return nil, errors.New("no file guard: the stack's file references cannot be checked")
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.guard.checkProjectFiles(p); err != nil {
		return nil, err
	}
	if tr != nil {
		tr.stampFiles(readFiles(p))
	}
	if err := r.materialize(p); err != nil {
		return nil, err
	}
	fromFiles := envFileKeysOf(p)
	p, err = p.WithServicesEnvironmentResolved(true)
	if err != nil {
		return nil, err
	}
	r.red.learnEnv(p, fromFiles)
	for name, s := range p.Services {
		s.CustomLabels = serviceLabels(p, name, envFiles)
		p.Services[name] = s
	}
	p = p.WithoutUnnecessaryResources()
	if err := CheckSupported(p); err != nil {
		return nil, err
	}
	return p, nil
}

// ConfigFiles returns the base compose file of dir and, for env, its
// compose.<env>.yaml overlay when one exists.
func ConfigFiles(dir, env string) ([]string, error) {
	var files []string
	for _, name := range defaultFileNames {
		f := filepath.Join(dir, name)
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
			break
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no compose file in %s (looked for %v)", dir, defaultFileNames)
	}
	if env == "" {
		return files, nil
	}
	for _, name := range []string{"compose." + env + ".yaml", "compose." + env + ".yml"} {
		f := filepath.Join(dir, name)
		if _, err := os.Stat(f); err == nil {
			return append(files, f), nil
		}
	}
	return files, nil
}

// envFiles lists the files whose values feed interpolation, later ones
// winning: the given ones (or the folder's .env, .env.tmpl and .sops.env),
// then <env>.env, <env>.env.tmpl and <env>.sops.env for the environment.
func envFiles(dir string, o LoadOptions) ([]string, error) {
	var files []string
	for _, f := range o.EnvFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("env file: %w", err)
		}
		files = append(files, abs)
	}
	// Whatever is there under these names is checked: a symlink to a
	// device or a folder is refused, not skipped.
	present := func(names ...string) {
		for _, name := range names {
			if f := filepath.Join(dir, name); exists(f) {
				files = append(files, f)
			}
		}
	}
	if len(files) == 0 {
		present(".env", ".env.tmpl", ".sops.env")
	}
	if o.Env != "" {
		present(o.Env+".env", o.Env+".env.tmpl", o.Env+".sops.env")
	}
	return files, nil
}

// readFiles lists the files that resolving the loaded project reads: each
// service's env_file, and the files of its secrets and configs.
func readFiles(p *types.Project) []string {
	var paths []string
	for _, name := range p.ServiceNames() {
		for _, ef := range p.Services[name].EnvFiles {
			paths = append(paths, ef.Path)
		}
	}
	for _, key := range sortedKeys(p.Secrets) {
		if f := p.Secrets[key].File; f != "" {
			paths = append(paths, f)
		}
	}
	for _, key := range sortedKeys(p.Configs) {
		if f := p.Configs[key].File; f != "" {
			paths = append(paths, f)
		}
	}
	return paths
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
