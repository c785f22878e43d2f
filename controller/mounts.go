package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/controller/reconcile"
	"github.com/berth-gitops/berth/gitsource"
)

// mountsDir holds the copies of the stack's files that its services mount.
func (s *stack) mountsDir() string { return filepath.Join(s.c.o.MountsDir, s.name) }

// copyMounts points every mount of the stack's own files (bind mounts,
// secret and config files) at a copy named by its Git object, so that a
// container, even with a read-write mount, never reaches the export berth
// loads from, and a service is recreated exactly when the files it mounts
// change. Mounts of host paths are left as they are.
func (s *stack) copyMounts(ctx context.Context, p *types.Project, hash string) error {
	real, err := filepath.EvalSymlinks(s.dir)
	if err != nil {
		return err
	}
	c := mountCopier{s: s, hash: hash, real: real, done: map[string]compose.RepoMount{}}
	if sources, err := mountSources(ctx, s.c.o.Engine); err == nil {
		c.mounted = map[string]bool{}
		for _, src := range sources {
			c.mounted[filepath.Clean(src)] = true
		}
	} else {
		s.log.Warn("list the containers' mounts: existing copies are used as they are", "error", err)
	}
	secrets, configs, err := c.fileObjects(p)
	if err != nil {
		return err
	}
	for _, name := range p.ServiceNames() {
		svc := p.Services[name]
		mounts, err := c.volumes(&svc)
		if err != nil {
			return fmt.Errorf("service %q: volumes: %w", name, err)
		}
		for _, ref := range svc.Secrets {
			if m, ok := secrets[ref.Source]; ok {
				mounts = append(mounts, m)
			}
		}
		for _, ref := range svc.Configs {
			if m, ok := configs[ref.Source]; ok {
				mounts = append(mounts, m)
			}
		}
		compose.SetRepoMounts(&svc, mounts)
		p.Services[name] = svc
	}
	return nil
}

// mountCopier copies the files of one commit's export, each once.
type mountCopier struct {
	s    *stack
	hash string
	real string // the export, symlinks resolved
	done map[string]compose.RepoMount
	// mounted are the host paths containers mount; nil when unknown.
	mounted map[string]bool
}

// volumes points the service's bind mounts of stack files at copies.
func (c *mountCopier) volumes(svc *types.ServiceConfig) ([]compose.RepoMount, error) {
	var mounts []compose.RepoMount
	vols := make([]types.ServiceVolumeConfig, len(svc.Volumes))
	for i, v := range svc.Volumes {
		vols[i] = v
		if v.Type != types.VolumeTypeBind {
			continue
		}
		m, ok, err := c.copy(v.Source)
		if err != nil {
			return nil, err
		}
		if ok {
			vols[i].Source = m.Copy
			mounts = append(mounts, m)
		}
	}
	svc.Volumes = vols
	return mounts, nil
}

// fileObjects points the secret and config files that come from the stack's
// files at copies, and returns those copies by secret and config name.
func (c *mountCopier) fileObjects(p *types.Project) (secrets, configs map[string]compose.RepoMount, err error) {
	defs := map[string]types.FileObjectConfig{}
	for k, v := range p.Secrets {
		defs[k] = types.FileObjectConfig(v)
	}
	if secrets, err = c.files("secret", defs); err != nil {
		return nil, nil, err
	}
	for k, v := range defs {
		p.Secrets[k] = types.SecretConfig(v)
	}
	defs = map[string]types.FileObjectConfig{}
	for k, v := range p.Configs {
		defs[k] = types.FileObjectConfig(v)
	}
	if configs, err = c.files("config", defs); err != nil {
		return nil, nil, err
	}
	for k, v := range defs {
		p.Configs[k] = types.ConfigObjConfig(v)
	}
	return secrets, configs, nil
}

// files points the file of each secret or config that comes from the
// stack's files at its copy.
func (c *mountCopier) files(kind string, defs map[string]types.FileObjectConfig) (map[string]compose.RepoMount, error) {
	out := map[string]compose.RepoMount{}
	keys := make([]string, 0, len(defs))
	for k := range defs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		def := defs[key]
		if def.File == "" {
			continue
		}
		m, ok, err := c.copy(def.File)
		if err != nil {
			return nil, fmt.Errorf("%s %q: file: %w", kind, key, err)
		}
		if ok {
			def.File = m.Copy
			defs[key] = def
			out[key] = m
		}
	}
	return out, nil
}

// copy returns the copy of src when src is in the export; ok is false for
// a path outside it.
func (c *mountCopier) copy(src string) (compose.RepoMount, bool, error) {
	rel, ok := within(c.s.dir, src)
	if !ok {
		if rel, ok = within(c.real, src); !ok {
			return compose.RepoMount{}, false, nil
		}
	}
	resolved, err := filepath.EvalSymlinks(src)
	if err != nil {
		return compose.RepoMount{}, false, reconcile.Stalling(fmt.Errorf("%s is not a file or folder of the stack at this commit (keep data in a named volume)", rel))
	}
	realRel, ok := within(c.real, resolved)
	if !ok {
		return compose.RepoMount{}, false, reconcile.Stalling(fmt.Errorf("%s resolves outside the stack folder", rel))
	}
	if m, ok := c.done[realRel]; ok {
		return m, true, nil
	}
	fi, err := os.Lstat(resolved)
	if err != nil || !(fi.IsDir() || fi.Mode().IsRegular()) {
		return compose.RepoMount{}, false, reconcile.Stalling(fmt.Errorf("%s is not a file or folder", rel))
	}
	e, err := c.export(realRel)
	if err != nil {
		return compose.RepoMount{}, false, exportFault(fmt.Errorf("copy %s: %w", rel, err))
	}
	m := compose.RepoMount{Path: realRel, Folder: e.Folder, Object: e.Hash, Copy: e.Path}
	c.done[realRel] = m
	return m, true, nil
}

// export copies one path of the stack. A copy that exists but that no
// container mounts is written afresh: a container that mounted it
// read-write may have changed it, and a rollback must bring back the
// commit's files. A copy in use is the running container's and is kept.
func (c *mountCopier) export(rel string) (gitsource.Export, error) {
	src := c.s.c.o.Source
	dir := c.s.c.stackPath(c.s.name)
	e, err := src.ExportPath(c.hash, dir, rel, c.s.mountsDir())
	if err != nil || !e.Reused || c.mounted == nil || c.mounted[filepath.Clean(e.Path)] {
		return e, err
	}
	if err := os.RemoveAll(e.Path); err != nil { // never follows a symlink
		return e, err
	}
	return src.ExportPath(c.hash, dir, rel, c.s.mountsDir())
}

// within returns p relative to dir, slash-separated, when p is dir or lies
// inside it.
func within(dir, p string) (string, bool) {
	rel, err := filepath.Rel(dir, filepath.Clean(p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}
