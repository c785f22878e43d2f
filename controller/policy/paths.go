package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// mounts checks every host path a service mounts: its binds, and the named
// volumes whose local driver binds a host device.
func (c *checker) mounts(name string, s types.ServiceConfig) {
	for i, v := range s.Volumes {
		field := fmt.Sprintf("volumes[%d].source", i)
		switch v.Type {
		case types.VolumeTypeBind:
			c.hostPath(name, field, v, v.Source, c.t.Sources.Literal(name, "volumes"))
		case types.VolumeTypeVolume:
			c.ownVolume(name, field, v)
			dev, ok := c.boundDevice(v.Source)
			switch {
			case !ok:
			case !filepath.IsAbs(dev):
				// The engine hands the device to mount(2) as it is: a
				// relative one is taken from the engine's working folder,
				// the host's /, never from the stack folder.
				file, line := c.t.Sources.LocateVolume(name, v.Target)
				c.addAt(file, line, RuleHostPath, name, field, "mounts volume %q, whose driver_opts.device is a relative path, which the engine resolves from its own working folder (the host's /); write an absolute path", v.Source)
			default:
				c.hostPath(name, field, v, dev, c.t.Sources.Literal(name, "volumes") && c.t.Sources.LiteralTop("volumes", v.Source))
			}
		}
	}
}

// ownVolume refuses a named volume that is not the stack's own: an
// external one, or one whose name: leaves the project's names. Such a
// volume may already exist, made by another stack, a person or docker
// compose with any driver options, and the engine hands it over as it is.
func (c *checker) ownVolume(name, field string, v types.ServiceVolumeConfig) {
	vol, ok := c.p.Volumes[v.Source]
	if !ok {
		return // an anonymous volume
	}
	file, line := c.t.Sources.LocateVolume(name, v.Target)
	switch {
	case bool(vol.External):
		c.addAt(file, line, RuleSharedVolume, name, field, "mounts external volume %q, which berth did not make for this stack", v.Source)
	case vol.Name != "" && !strings.HasPrefix(vol.Name, c.p.Name+"_") && !strings.HasPrefix(vol.Name, c.p.Name+"-"):
		c.addAt(file, line, RuleSharedVolume, name, field, "mounts volume %q, named outside the project %q; name it %s_... or drop name:", v.Source, c.p.Name, c.p.Name)
	}
}

// boundDevice is the host path a named volume of the local driver mounts:
// a folder with driver_opts o: bind (a bind mount by another name), or a
// block device, absolute or relative. Remote devices (nfs ":/export",
// "server:/export") and tmpfs are not host paths.
func (c *checker) boundDevice(volume string) (string, bool) {
	v, ok := c.p.Volumes[volume]
	if !ok || bool(v.External) || (v.Driver != "" && v.Driver != "local") {
		return "", false
	}
	dev := v.DriverOpts["device"]
	switch {
	case dev == "" || v.DriverOpts["type"] == "tmpfs":
		return "", false
	case strings.HasPrefix(dev, "/"):
		return dev, true
	}
	return dev, !strings.Contains(dev, ":")
}

// hostPath judges one host path a service mounts. The path is resolved
// through symlinks first, so a granted folder that holds a link to /etc
// does not hand out /etc.
// The path is named in the message only when the files write it
// literally (see show).
func (c *checker) hostPath(name, field string, v types.ServiceVolumeConfig, src string, literal bool) {
	readOnly := v.ReadOnly
	file, line := c.t.Sources.LocateVolume(name, v.Target)
	add := func(rule, format string, args ...any) { c.addAt(file, line, rule, name, field, format, args...) }
	written := filepath.Clean(src)
	real := resolve(written)
	show := func() string {
		if !literal {
			return hidden
		}
		return showPath(written, real)
	}
	if readOnly && (written == "/etc/localtime" || written == "/etc/timezone") {
		return
	}
	// The stack's own files first: its folder may well be inside berth's
	// data dir.
	for _, d := range c.t.Dirs {
		if within(real, resolve(d)) {
			return
		}
	}
	for _, p := range []string{written, real} {
		if rule, why := systemPath(p, c.t.Refused); rule != "" {
			add(rule, "bind-mounts %s: %s", show(), why)
			return
		}
	}
	for _, g := range c.grants {
		if !within(real, resolve(g.Path)) {
			continue
		}
		if g.ReadOnly && !readOnly {
			add(RuleHostPath, "bind-mounts %s read-write; the host grants %s read-only", show(), g.Path)
		}
		return
	}
	add(RuleHostPath, "bind-mounts %s, outside the stack folder and the host paths the host grants this stack", show())
}

func showPath(written, real string) string {
	if written == real {
		return written
	}
	return written + " (" + real + ")"
}

// systemPaths no stack may mount, granted or not, nor any folder that
// holds one of them.
var systemPaths = []string{"/etc", "/proc", "/sys", "/root", "/boot", "/dev", "/var/lib/docker", "/var/lib/containerd"}

// socketDirs hold the engine's and containerd's sockets and state.
var socketDirs = []string{"/run", "/var/run"}

// systemPath says which always-refused rule p falls under, given berth's
// own folders.
func systemPath(p string, refused []string) (rule, why string) {
	if p == "/" {
		return RuleHostSystemMount, "the host's root"
	}
	if isEngineSocket(p) {
		return RuleEngineSocket, "the engine's socket controls every container and the host"
	}
	for _, sys := range systemPaths {
		if within(p, sys) || within(sys, p) {
			return RuleHostSystemMount, "the host's " + sys + " is never granted"
		}
	}
	for _, own := range refused {
		if own == "" {
			continue
		}
		if within(p, own) || within(own, p) || within(p, resolve(own)) || within(resolve(own), p) {
			return RuleHostSystemMount, "berth's own " + own + " is never granted"
		}
	}
	return "", ""
}

// isEngineSocket is true for docker.sock and containerd.sock anywhere, any
// socket file under /run or /var/run, the containerd and docker folders
// there, and those folders themselves (they hold the sockets).
func isEngineSocket(p string) bool {
	base := filepath.Base(p)
	if base == "docker.sock" || base == "containerd.sock" {
		return true
	}
	for _, dir := range socketDirs {
		switch {
		case within(dir, p): // /run, /var/run or a folder above them
			return true
		case within(p, dir) && strings.HasSuffix(base, ".sock"):
			return true
		case within(p, dir+"/containerd") || within(p, dir+"/docker"):
			return true
		}
	}
	return false
}

// within reports whether p is dir or inside it; both are clean and
// absolute.
func within(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// resolve follows the symlinks of p's longest existing part; what does not
// exist yet (the engine creates a missing bind source) is kept as written.
// A dangling link is followed to where it points, since the engine would
// create its target.
func resolve(p string) string { return resolveDepth(p, 0) }

func resolveDepth(p string, depth int) string {
	p = filepath.Clean(p)
	var rest []string
	for cur := p; ; cur = filepath.Dir(cur) {
		real, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return joinRest(real, rest)
		}
		if fi, lerr := os.Lstat(cur); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 && depth < 40 {
			if target, rerr := os.Readlink(cur); rerr == nil {
				if !filepath.IsAbs(target) {
					target = filepath.Join(filepath.Dir(cur), target)
				}
				return resolveDepth(joinRest(target, rest), depth+1)
			}
		}
		if (!errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission)) || cur == filepath.Dir(cur) {
			return p
		}
		rest = append(rest, filepath.Base(cur))
	}
}

// joinRest appends the parts collected from the end of a path, last first.
func joinRest(p string, rest []string) string {
	for i := len(rest) - 1; i >= 0; i-- {
		p = filepath.Join(p, rest[i])
	}
	return p
}
