package load

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// checkProjectFiles checks the files a loaded project names, before any of
// them is read: compose-go resolved their paths but read none (env_file is
// read when berth merges it, secret and config files when berth decrypts
// or mounts them). Bind sources outside the stack folder and not written
// relative to it are left to the host policy.
func (g *fileGuard) checkProjectFiles(p *types.Project) error {
	var errs []error
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		svc := fmt.Sprintf("service %q: ", name)
		for _, ef := range s.EnvFiles {
			errs = append(errs, g.file(fileRef(svc+"env_file"), ef.Path, MaxStackFileSize))
		}
		if b := s.Build; b != nil && filepath.IsAbs(b.Context) {
			// A remote context (a Git URL) is never read: berth does not build.
			errs = append(errs, g.folder(fileRef(svc+"build.context"), b.Context))
		}
		for _, opt := range s.SecurityOpt {
			// berth reads a seccomp profile to hand its JSON to the engine.
			if f, ok := seccompFile(opt); ok {
				errs = append(errs, g.file(fileRef(svc+"security_opt"), p.RelativePath(f), MaxStackFileSize))
			}
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind && filepath.IsAbs(v.Source) && within(g.dir, filepath.Clean(v.Source)) {
				errs = append(errs, g.bind(fileRef(svc+"volumes"), v.Source))
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(p.Volumes)) {
		v := p.Volumes[key]
		if dev := v.DriverOpts["device"]; bindOption(v.DriverOpts["o"]) && filepath.IsAbs(dev) && within(g.dir, filepath.Clean(dev)) {
			errs = append(errs, g.bind(fileRef(fmt.Sprintf("volume %q: driver_opts.device", key)), dev))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(p.Secrets)) {
		if f := p.Secrets[key].File; f != "" {
			errs = append(errs, g.file(fileRef(fmt.Sprintf("secret %q: file", key)), f, MaxMountedFileSize))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(p.Configs)) {
		if f := p.Configs[key].File; f != "" {
			errs = append(errs, g.file(fileRef(fmt.Sprintf("config %q: file", key)), f, MaxMountedFileSize))
		}
	}
	return errors.Join(errs...)
}

// checkStackFiles checks the files a load reads before compose-go runs:
// the compose files and the interpolation env files. Env files the caller
// gave (LoadOptions.EnvFiles, the CLI's --env-file) come from the person
// running berth, not from the commit, and need only be regular and small.
func (g *fileGuard) checkStackFiles(files, envFiles []string, o LoadOptions) error {
	var errs []error
	for _, f := range files {
		errs = append(errs, g.file("compose file", f, MaxStackFileSize))
	}
	given := map[string]bool{}
	for _, f := range o.EnvFiles {
		if abs, err := filepath.Abs(f); err == nil {
			given[abs] = true
		}
	}
	for _, f := range envFiles {
		if given[f] {
			errs = append(errs, regularFile(f, MaxStackFileSize))
			continue
		}
		errs = append(errs, g.file("env file", f, MaxStackFileSize))
	}
	return errors.Join(errs...)
}

// seccompFile is the profile file a security_opt names, as securityOpts
// reads it: seccomp=FILE or seccomp:FILE, other than unconfined and
// builtin.
func seccompFile(opt string) (string, bool) {
	key, value, ok := strings.Cut(opt, "=")
	if !ok {
		key, value, ok = strings.Cut(opt, ":")
	}
	if !ok || key != "seccomp" || value == "unconfined" || value == "builtin" {
		return "", false
	}
	return value, true
}
