package convert

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/berth-gitops/berth/compose"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// Where compose mounts file-backed secrets and configs whose target is
// empty or relative.
const (
	secretsDir = "/run/secrets"
	configsDir = "/"
)

// volumeMounts converts volumes:, then the secrets and configs, in that
// order; a secret or config never hides a volume with the same target.
//
// Like compose, plain binds and named volumes go in Binds: the bind string
// creates a missing host path, which the Mount API only learned in API 1.42,
// and keeps containers identical to the ones compose creates. Anything the
// bind string cannot say goes in Mounts.
func volumeMounts(p *types.Project, s types.ServiceConfig) ([]string, []mount.Mount, error) {
	var (
		binds  []string
		mounts []mount.Mount
	)
	used := map[string]bool{}
	for _, v := range s.Volumes {
		used[v.Target] = true
		bind, m, err := volumeMount(p, v)
		if err != nil {
			return nil, nil, err
		}
		if bind != "" {
			binds = append(binds, bind)
		} else {
			mounts = append(mounts, m)
		}
	}
	files, err := fileMounts(p, s)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range files {
		if !used[m.Target] {
			used[m.Target] = true
			mounts = append(mounts, m)
		}
	}
	return binds, mounts, nil
}

// volumeMount returns either a bind string or a mount for one volumes: entry.
func volumeMount(p *types.Project, v types.ServiceVolumeConfig) (string, mount.Mount, error) {
	switch v.Type {
	case types.VolumeTypeBind:
		src, err := filepath.Abs(v.Source)
		if err != nil {
			return "", mount.Mount{}, err
		}
		if !bindNeedsMountAPI(v.Bind) {
			return bindString(src, v), mount.Mount{}, nil
		}
		return "", mount.Mount{
			Type: mount.TypeBind, Source: src, Target: v.Target, ReadOnly: v.ReadOnly,
			Consistency: mount.Consistency(v.Consistency), BindOptions: bindOptions(v.Bind),
		}, nil
	case types.VolumeTypeVolume:
		if v.Source == "" {
			return "", mount.Mount{
				Type: mount.TypeVolume, Target: v.Target, ReadOnly: v.ReadOnly,
				Consistency: mount.Consistency(v.Consistency), VolumeOptions: volumeOptions(v.Volume),
			}, nil
		}
		vol, ok := p.Volumes[v.Source]
		if !ok {
			return "", mount.Mount{}, fmt.Errorf("volumes: undefined volume %q", v.Source)
		}
		if !volumeNeedsMountAPI(v.Volume) {
			return bindString(vol.Name, v), mount.Mount{}, nil
		}
		return "", mount.Mount{
			Type: mount.TypeVolume, Source: vol.Name, Target: v.Target, ReadOnly: v.ReadOnly,
			Consistency: mount.Consistency(v.Consistency), VolumeOptions: volumeOptions(v.Volume),
		}, nil
	case types.VolumeTypeTmpfs:
		m := mount.Mount{Type: mount.TypeTmpfs, Target: v.Target, ReadOnly: v.ReadOnly}
		if t := v.Tmpfs; t != nil && (t.Size != 0 || t.Mode != 0) {
			m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(t.Size), Mode: os.FileMode(t.Mode)}
		}
		return "", m, nil
	case types.VolumeTypeImage:
		m := mount.Mount{Type: mount.TypeImage, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
		if v.Image != nil && v.Image.SubPath != "" {
			m.ImageOptions = &mount.ImageOptions{Subpath: v.Image.SubPath}
		}
		return "", m, nil
	}
	return "", mount.Mount{}, fmt.Errorf("volumes: type %q is not supported", v.Type)
}

// bindNeedsMountAPI reports whether a bind uses an option the bind string
// cannot express. A bind without options (long syntax) behaves like the
// short syntax and creates its host path, as in compose.
func bindNeedsMountAPI(b *types.ServiceVolumeBind) bool {
	return b != nil && (!b.CreateHostPath || b.Propagation != "" || b.Recursive != "")
}

func volumeNeedsMountAPI(v *types.ServiceVolumeVolume) bool {
	return v != nil && (v.NoCopy || v.Subpath != "" || len(v.Labels) > 0)
}

// bindString renders "source:target:rw|ro[,selinux]".
func bindString(source string, v types.ServiceVolumeConfig) string {
	opts := []string{"rw"}
	if v.ReadOnly {
		opts[0] = "ro"
	}
	if v.Bind != nil && v.Bind.SELinux != "" {
		opts = append(opts, v.Bind.SELinux)
	}
	return source + ":" + v.Target + ":" + strings.Join(opts, ",")
}

func bindOptions(b *types.ServiceVolumeBind) *mount.BindOptions {
	o := &mount.BindOptions{Propagation: mount.Propagation(b.Propagation), CreateMountpoint: b.CreateHostPath}
	switch b.Recursive {
	case "disabled":
		o.NonRecursive = true
	case "writable":
		o.ReadOnlyNonRecursive = true
	case "readonly":
		o.ReadOnlyForceRecursive = true
	}
	return o
}

func volumeOptions(v *types.ServiceVolumeVolume) *mount.VolumeOptions {
	if v == nil || (!v.NoCopy && v.Subpath == "" && len(v.Labels) == 0) {
		return nil
	}
	return &mount.VolumeOptions{NoCopy: v.NoCopy, Subpath: v.Subpath, Labels: nonEmpty(v.Labels)}
}

// fileMounts bind-mounts file-backed secrets and configs read-only where
// compose puts them: a secret at /run/secrets/<target or name>, a config at
// /<target or name>; an absolute target is used as is.
func fileMounts(p *types.Project, s types.ServiceConfig) ([]mount.Mount, error) {
	var out []mount.Mount
	for _, ref := range s.Secrets {
		def, ok := p.Secrets[ref.Source]
		if !ok || def.File == "" {
			return nil, fmt.Errorf("secrets: %q is not a file secret", ref.Source)
		}
		out = append(out, readOnlyFile(def.File, fileTarget(secretsDir, ref.Source, ref.Target)))
	}
	for _, ref := range s.Configs {
		def, ok := p.Configs[ref.Source]
		if !ok || def.File == "" {
			return nil, fmt.Errorf("configs: %q is not a file config", ref.Source)
		}
		out = append(out, readOnlyFile(def.File, fileTarget(configsDir, ref.Source, ref.Target)))
	}
	return out, nil
}

func fileTarget(dir, source, target string) string {
	switch {
	case target == "":
		return path.Join(dir, source)
	case strings.HasPrefix(target, "/"):
		return target
	}
	return path.Join(dir, target)
}

// readOnlyFile is a bind through the Mount API, which fails when the file is
// missing instead of creating a directory in its place.
func readOnlyFile(source, target string) mount.Mount {
	return mount.Mount{Type: mount.TypeBind, Source: source, Target: target, ReadOnly: true}
}

// VolumeCreateOptions converts the project volume key into the engine's
// create options, with the labels compose sets (config hash included).
func VolumeCreateOptions(p *types.Project, key string) (client.VolumeCreateOptions, error) {
	v, ok := p.Volumes[key]
	if !ok {
		return client.VolumeCreateOptions{}, fmt.Errorf("volume %q is not defined in project %q", key, p.Name)
	}
	if v.External {
		return client.VolumeCreateOptions{}, fmt.Errorf("volume %q is external: berth does not create it", key)
	}
	hash, err := compose.VolumeHash(v)
	if err != nil {
		return client.VolumeCreateOptions{}, fmt.Errorf("volume %q: %w", key, err)
	}
	return client.VolumeCreateOptions{
		Name:       v.Name,
		Driver:     v.Driver,
		DriverOpts: nonEmpty(v.DriverOpts),
		Labels: mergeLabels(v.Labels, map[string]string{
			compose.LabelProject:    p.Name,
			compose.LabelVolume:     key,
			compose.LabelVersion:    compose.ComposeVersion,
			compose.LabelConfigHash: hash,
		}),
	}, nil
}
