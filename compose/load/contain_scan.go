package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/berth-gitops/berth/compose/budget"
)

// compose-go reads include and extends files itself, while it loads, and
// resolves relative bind sources to absolute paths that no longer say they
// were relative. So before compose-go runs, berth reads the compose files
// the way compose-go will and checks what they name: each include (its
// files, env files and project directory, and what the included files name
// in turn), each extends file, each label_file, and each bind source
// written relative to a file's folder. Paths are interpolated from the same environment.

// fileScan walks the compose files that a load will read.
type fileScan struct {
	g *fileGuard
	// graph bounds the include and extends graph as compose-go walks it.
	graph includeGraph
	// parsed holds each file's documents, read and checked once.
	parsed map[string][]*yaml.Node
	// substituted learns each value interpolation puts into a path, for
	// errors to hide.
	substituted func(string)
}

// scanComposeFiles checks what the stack's compose files name; dir is the
// project's working folder and env the interpolation environment.
func (g *fileGuard) scanComposeFiles(files []string, dir string, env types.Mapping, substituted func(string)) error {
	s := &fileScan{g: g, parsed: map[string][]*yaml.Node{}, substituted: substituted}
	for _, f := range files {
		if err := s.file(f, dir, env); err != nil {
			return err
		}
	}
	return nil
}

// file checks one compose file, whose relative paths start at workDir.
func (s *fileScan) file(path, workDir string, env types.Mapping) error {
	leave, err := s.graph.enter(path+"\x00"+workDir, s.g.show(path))
	if leave == nil {
		return err // over budget, or a cycle compose-go reports
	}
	defer leave()
	docs, err := s.read(path)
	if err != nil || docs == nil {
		return err
	}
	name := s.g.show(path)
	for _, doc := range docs {
		if err := s.include(name, mapGet(doc, "include"), workDir, env); err != nil {
			return err
		}
		if err := s.volumeDevices(name, mapGet(doc, "volumes"), workDir, env); err != nil {
			return err
		}
		services := mapGet(doc, "services")
		if services == nil || services.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(services.Content); i += 2 {
			svc := fmt.Sprintf("%s: service %q: ", name, services.Content[i].Value)
			def := deref(services.Content[i+1])
			if err := s.extends(svc, mapGet(def, "extends"), workDir, env); err != nil {
				return err
			}
			if err := s.binds(svc, mapGet(def, "volumes"), workDir, env); err != nil {
				return err
			}
			if err := s.labelFiles(svc, mapGet(def, "label_file"), workDir, env); err != nil {
				return err
			}
		}
	}
	return nil
}

// read checks and parses a compose file with the YAML library compose-go
// uses. A file that does not parse is refused here: what is not scanned
// must not be loaded.
func (s *fileScan) read(path string) ([]*yaml.Node, error) {
	if docs, ok := s.parsed[path]; ok {
		return docs, nil
	}
	if err := s.g.file("compose file", path, MaxStackFileSize); err != nil {
		return nil, err
	}
	name := s.g.show(path)
	data, err := budget.ReadYAML(name, path, composeBudget)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // compose-go names the missing include or extends file
	}
	if err != nil {
		return nil, err
	}
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			s.parsed[path] = docs
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("failed to parse %s: %w", name, err)
		}
		if len(n.Content) > 0 {
			docs = append(docs, deref(n.Content[0]))
		}
	}
}

// include checks an include list in each of its forms: a path, or a
// mapping of path (one or a list), env_file and project_directory.
func (s *fileScan) include(name string, n *yaml.Node, workDir string, env types.Mapping) error {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	for _, item := range n.Content {
		if err := s.includeItem(fileRef(name+": include"), deref(item), workDir, env); err != nil {
			return err
		}
	}
	return nil
}

// includeItem checks one include and, in turn, what its files name, from
// its project directory (by default the first file's folder).
func (s *fileScan) includeItem(ref fileRef, item *yaml.Node, workDir string, env types.Mapping) error {
	paths := s.interpolated(scalars(item), env)
	var envFiles, projectDir []string
	if item.Kind == yaml.MappingNode {
		paths = s.interpolated(scalars(mapGet(item, "path")), env)
		envFiles = s.interpolated(scalars(mapGet(item, "env_file")), env)
		projectDir = s.interpolated(scalars(mapGet(item, "project_directory")), env)
	}
	if len(paths) == 0 {
		return nil
	}
	for i, p := range paths {
		if remoteRef(p) {
			return fmt.Errorf("%s %s: remote includes are not supported; include files of the stack folder", ref, p)
		}
		paths[i] = absIn(workDir, p)
		if err := s.g.file(ref, paths[i], MaxStackFileSize); err != nil {
			return err
		}
	}
	dir := filepath.Dir(paths[0])
	if len(projectDir) > 0 && projectDir[0] != "" {
		dir = absIn(workDir, projectDir[0])
		if err := s.g.folder(ref+".project_directory", dir); err != nil {
			return err
		}
	}
	nested, err := s.includeEnv(ref, envFiles, workDir, dir, env)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := s.file(p, dir, nested); err != nil {
			return err
		}
	}
	return nil
}

// includeEnv checks an include's env files (by default the .env of its
// project directory) and returns the environment its files interpolate.
func (s *fileScan) includeEnv(ref fileRef, envFiles []string, workDir, projectDir string, env types.Mapping) (types.Mapping, error) {
	var files []string
	for _, f := range envFiles {
		files = append(files, absIn(workDir, f))
	}
	if len(envFiles) == 0 {
		if f := filepath.Join(projectDir, ".env"); exists(f) {
			files = append(files, f)
		}
	}
	for _, f := range files {
		if err := s.g.file(ref+".env_file", f, MaxStackFileSize); err != nil {
			return nil, err
		}
	}
	values, err := dotenv.GetEnvFromFile(env, files)
	if err != nil {
		return env, nil // compose-go reports it
	}
	return env.Clone().Merge(values), nil
}

// extends checks the file of `extends: {file: ..., service: ...}`; the
// extended file's own paths start at its folder.
func (s *fileScan) extends(svc string, n *yaml.Node, workDir string, env types.Mapping) error {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	files := s.interpolated(scalars(mapGet(n, "file")), env)
	if len(files) == 0 {
		return nil
	}
	ref := fileRef(svc + "extends.file")
	if remoteRef(files[0]) {
		return fmt.Errorf("%s %s: remote files are not supported", ref, files[0])
	}
	path := absIn(workDir, files[0])
	if err := s.g.file(ref, path, MaxStackFileSize); err != nil {
		return err
	}
	return s.file(path, filepath.Dir(path), env)
}

// labelFiles checks label_file, which compose-go reads while it loads
// (berth then refuses the field, after the read).
func (s *fileScan) labelFiles(svc string, n *yaml.Node, workDir string, env types.Mapping) error {
	for _, f := range s.interpolated(scalars(n), env) {
		if err := s.g.file(fileRef(svc+"label_file"), absIn(workDir, f), MaxStackFileSize); err != nil {
			return err
		}
	}
	return nil
}

// binds checks the bind sources written relative to the file's folder, in
// the short syntax (./data:/data) and the long one (type: bind).
func (s *fileScan) binds(svc string, n *yaml.Node, workDir string, env types.Mapping) error {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	ref := fileRef(svc + "volumes")
	for _, v := range n.Content {
		v = deref(v)
		source := ""
		switch v.Kind {
		case yaml.ScalarNode:
			if src := s.interpolated([]string{v.Value}, env); len(src) > 0 {
				source, _, _ = strings.Cut(src[0], ":")
				if !strings.HasPrefix(source, ".") {
					source = "" // a named volume or a host path
				}
			}
		case yaml.MappingNode:
			t := s.interpolated(scalars(mapGet(v, "type")), env)
			src := s.interpolated(scalars(mapGet(v, "source")), env)
			if len(t) > 0 && t[0] == types.VolumeTypeBind && len(src) > 0 &&
				!filepath.IsAbs(src[0]) && !strings.HasPrefix(src[0], "~") {
				source = src[0]
			}
		}
		if source == "" {
			continue
		}
		if err := s.g.bind(ref, absIn(workDir, source)); err != nil {
			return err
		}
	}
	return nil
}

// volumeDevices checks the local volumes that are binds in disguise
// (driver_opts o: bind) and name a device relative to the file's folder.
func (s *fileScan) volumeDevices(name string, n *yaml.Node, workDir string, env types.Mapping) error {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		opts := mapGet(n.Content[i+1], "driver_opts")
		o := s.interpolated(scalars(mapGet(opts, "o")), env)
		dev := s.interpolated(scalars(mapGet(opts, "device")), env)
		if len(o) == 0 || !bindOption(o[0]) || len(dev) == 0 || filepath.IsAbs(dev[0]) || strings.HasPrefix(dev[0], "~") {
			continue
		}
		ref := fileRef(fmt.Sprintf("%s: volume %q: driver_opts.device", name, n.Content[i].Value))
		if err := s.g.bind(ref, absIn(workDir, dev[0])); err != nil {
			return err
		}
	}
	return nil
}

// bindOption reports a local volume's mount options that make it a bind.
func bindOption(o string) bool {
	for _, opt := range strings.Split(o, ",") {
		if opt == "bind" || opt == "rbind" {
			return true
		}
	}
	return false
}

// remoteRef reports a reference compose resolves remotely (git, oci).
func remoteRef(p string) bool {
	return strings.Contains(p, "://") || strings.HasPrefix(p, "git@") || strings.HasPrefix(p, "oci:")
}

func absIn(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// interpolated substitutes variables the way compose-go will; a value that
// does not interpolate is kept as written, for compose-go to report.
func (s *fileScan) interpolated(values []string, env types.Mapping) []string {
	lookup := func(name string) (string, bool) {
		v, ok := env.Resolve(name)
		if ok && s.substituted != nil {
			s.substituted(v)
		}
		return v, ok
	}
	out := make([]string, 0, len(values))
	for _, v := range values {
		if strings.Contains(v, "$") {
			if sub, err := template.Substitute(v, lookup); err == nil {
				v = sub
			}
		}
		out = append(out, v)
	}
	return out
}

// scalars is a scalar's value, or the scalar values of a sequence.
func scalars(n *yaml.Node) []string {
	n = deref(n)
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}
	case n.Kind == yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			if c = deref(c); c.Kind == yaml.ScalarNode {
				out = append(out, c.Value)
			}
		}
		return out
	}
	return nil
}

// mapGet returns the value of key in a mapping, following aliases and
// merge keys (<<) as compose-go does. Each node is looked at once, so
// nested merges cannot make the lookup explode.
func mapGet(n *yaml.Node, key string) *yaml.Node {
	return mapGetSeen(n, key, map[*yaml.Node]bool{})
}

func mapGetSeen(n *yaml.Node, key string, seen map[*yaml.Node]bool) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode || seen[n] {
		return nil
	}
	seen[n] = true
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case key:
			return deref(n.Content[i+1])
		case "<<":
			m := deref(n.Content[i+1])
			if m != nil && m.Kind == yaml.SequenceNode {
				merged = append(merged, m.Content...)
			} else {
				merged = append(merged, m)
			}
		}
	}
	for _, m := range merged {
		if v := mapGetSeen(m, key, seen); v != nil {
			return v
		}
	}
	return nil
}

// deref follows aliases, a bounded number of times.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}
