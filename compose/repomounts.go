package compose

import (
	"maps"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// A deploying host never lets a container mount the folder berth loads a
// commit from: each file or folder of the stack that a service mounts (a
// bind mount, a secret or config file) is a copy named by its Git object,
// so a service's config changes exactly when the files it mounts change,
// and the plan names them ("mounted file conf/app.conf changed").

// RepoMount is one of the stack's files or folders that a service mounts
// from its content-addressed copy.
type RepoMount struct {
	Path   string // in the stack folder, slash-separated: "conf/app.conf"
	Folder bool
	Object string // the Git object (blob or tree) the copy holds
	Copy   string // the copy on the host, which the container mounts
}

// LabelBerthMounted is a digest of the stack files a service mounts: a
// secret or config file is not part of the config hash, so this label is
// what makes a changed one recreate the service.
const LabelBerthMounted = "dev.berth.mounted"

// repoMountsKey holds a service's RepoMounts among its extensions, which
// the config hash leaves out; only a []RepoMount set by SetRepoMounts
// counts, never a value from a compose file.
const repoMountsKey = "x-berth-repo-mounts"

// SetRepoMounts records the stack files a service mounts, after the caller
// pointed its mounts at the copies, and labels the service with their digest.
func SetRepoMounts(s *types.ServiceConfig, mounts []RepoMount) {
	if len(mounts) == 0 {
		delete(s.Extensions, repoMountsKey)
		return
	}
	ms := append([]RepoMount(nil), mounts...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Path < ms[j].Path })
	if s.Extensions == nil {
		s.Extensions = types.Extensions{}
	}
	s.Extensions[repoMountsKey] = ms
	entries := make([]string, len(ms))
	for i, m := range ms {
		entries[i] = m.field() + "\x00" + m.Object
	}
	d := NewDigest()
	d.List(entries)
	s.Labels = maps.Clone(s.Labels)
	if s.Labels == nil {
		s.Labels = types.Labels{}
	}
	s.Labels[LabelBerthMounted] = d.Sum()
}

// RepoMounts returns what SetRepoMounts recorded for a service.
func RepoMounts(s types.ServiceConfig) []RepoMount {
	ms, _ := s.Extensions[repoMountsKey].([]RepoMount)
	return ms
}

// field is how a plan names the mount: "mounted file conf/app.conf".
func (m RepoMount) field() string {
	kind := "mounted file "
	if m.Folder {
		kind = "mounted folder "
	}
	// The fields label separates entries with "," and "=".
	return kind + strings.NewReplacer("%", "%25", ",", "%2C", "=", "%3D").Replace(m.Path)
}

// withoutCopies is s as its fields are compared: each copy's path put back
// to the stack path it holds and the digest label left out, so a changed
// file shows as that file and not as "volumes, labels".
func withoutCopies(s types.ServiceConfig, mounts []RepoMount) types.ServiceConfig {
	if len(mounts) == 0 {
		return s
	}
	byCopy := map[string]string{}
	for _, m := range mounts {
		byCopy[filepath.Clean(m.Copy)] = "./" + m.Path
	}
	vols := make([]types.ServiceVolumeConfig, len(s.Volumes))
	for i, v := range s.Volumes {
		if p, ok := byCopy[filepath.Clean(v.Source)]; ok && v.Type == types.VolumeTypeBind {
			v.Source = p
		}
		vols[i] = v
	}
	s.Volumes = vols
	if _, ok := s.Labels[LabelBerthMounted]; ok {
		s.Labels = maps.Clone(s.Labels)
		delete(s.Labels, LabelBerthMounted)
		if len(s.Labels) == 0 {
			s.Labels = nil
		}
	}
	return s
}
