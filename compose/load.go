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
	"os"
	"path/filepath"
	"strings"

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
// checked against what berth can convert.
func Load(ctx context.Context, o LoadOptions) (*types.Project, error) {
	p, err := load(ctx, o)
	if err != nil {
		files, _ := ConfigFiles(o.Dir, o.Env)
		return nil, &LoadError{Dir: o.Dir, Files: files, Err: err}
	}
	return p, nil
}

func load(ctx context.Context, o LoadOptions) (*types.Project, error) {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	files, err := ConfigFiles(dir, o.Env)
	if err != nil {
		return nil, err
	}
	envFiles, err := envFiles(dir, o)
	if err != nil {
		return nil, err
	}
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
	opts, err := cli.NewProjectOptions(files, fns...)
	if err != nil {
		return nil, err
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, err
	}
	p, err = p.WithServicesEnvironmentResolved(true)
	if err != nil {
		return nil, err
	}
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

// envFiles lists the files whose values feed interpolation: the given ones
// (or the folder's .env), then <env>.env for the environment.
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
	if len(files) == 0 {
		if f := filepath.Join(dir, ".env"); isFile(f) {
			files = append(files, f)
		}
	}
	if o.Env != "" {
		if f := filepath.Join(dir, o.Env+".env"); isFile(f) {
			files = append(files, f)
		}
	}
	return files, nil
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
