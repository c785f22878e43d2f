// Package load reads a stack folder into a Compose project with compose-go:
// it keeps every file reference inside the folder (or a host grant),
// renders env templates and host secrets, decrypts sops files, and refuses
// fields berth cannot convert. Its errors name files, services and fields,
// never values.
package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/convert"
	"github.com/compose-spec/compose-go/v2/cli"
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

	// Redactor, when set, learns every value the load reads (see
	// Redactor), even from a load that fails, and strips the values it
	// already knew from the load's error too.
	Redactor *compose.Redactor

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
// checked against what berth can convert. Load errors are *LoadError.
func Load(ctx context.Context, o LoadOptions) (*types.Project, error) {
	p, err := loadStack(ctx, o)
	if err != nil {
		files, _ := ConfigFiles(o.Dir, o.Env)
		return nil, &LoadError{Dir: o.Dir, Files: files, Err: err}
	}
	return p, nil
}

// loadStack loads the stack folder. Its errors hold no secret value (see
// renderer.scrub).
func loadStack(ctx context.Context, o LoadOptions) (_ *types.Project, err error) {
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
	learnInterpolation(r.red, files, o.OSEnv)
	return loadProject(ctx, opts, r, sources)
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
func loadProject(ctx context.Context, opts *cli.ProjectOptions, r *renderer, envFiles []string) (*types.Project, error) {
	if err := cli.WithLoadOptions(r.recordInterpolation)(opts); err != nil {
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
	if err := r.materialize(p); err != nil {
		return nil, err
	}
	fromFiles := envFileKeysOf(p)
	p, err = p.WithServicesEnvironmentResolved(true)
	if err != nil {
		return nil, err
	}
	learnEnv(r.red, p, fromFiles)
	for name, s := range p.Services {
		s.CustomLabels = compose.ServiceLabels(p, name, envFiles)
		p.Services[name] = s
	}
	p = p.WithoutUnnecessaryResources()
	if err := convert.CheckSupported(p); err != nil {
		return nil, err
	}
	return p, nil
}

// ConfigFiles returns the base compose file of dir and, for env, its
// compose.<env>.yaml overlay when one exists.
func ConfigFiles(dir, env string) ([]string, error) {
	var files []string
	base, overlay := ComposeFileNames(env)
	for _, name := range base {
		f := filepath.Join(dir, name)
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
			break
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no compose file in %s (looked for %v)", dir, defaultFileNames)
	}
	for _, name := range overlay {
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
