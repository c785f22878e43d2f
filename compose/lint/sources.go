package lint

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-gitops/berth/compose/load"
	"go.yaml.in/yaml/v3"

	"github.com/berth-gitops/berth/compose/budget"
)

// Sources are a stack's files as written, before interpolation: what Lint
// needs besides the loaded project to tell a literal from a variable and to
// point at a file and line. ReadSources builds them.
type Sources struct {
	// Stack is the stack's name (its folder's name); empty means the
	// project's name.
	Stack string
	// Files are the compose files, base first, then the overlay.
	Files []File
	// EnvFiles are the stack's .env and <env>.env (values for
	// interpolation) and every env_file a service names.
	EnvFiles []EnvFile
}

// File is one compose file.
type File struct {
	// Path is the file as findings name it: relative to the repository root
	// or the stack folder, with slashes.
	Path string
	// Root is the document's top node (a mapping); nil for an empty file.
	Root *yaml.Node
}

// EnvFile is one KEY=VALUE file. Its values stay unexported: they may be
// secrets, and nothing but the secret rule reads them.
type EnvFile struct {
	Path string
	// Services name the file in env_file; none for the interpolation files.
	Services []string
	entries  []envEntry
}

// ReadSources reads the compose files of the stack folder dir for env (as
// load.ConfigFiles lists them) and its env files. rel is the folder as
// findings should name it ("stacks/shop", or "" for the folder itself).
func ReadSources(dir, env, rel string) (Sources, error) {
	files, err := load.ConfigFiles(dir, env)
	if err != nil {
		return Sources{}, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Sources{}, err
	}
	src := Sources{Stack: filepath.Base(abs)}
	show := func(name string) string { return path.Join(filepath.ToSlash(rel), filepath.ToSlash(name)) }
	for _, f := range files {
		root, err := readYAML(f)
		if err != nil {
			return Sources{}, err
		}
		src.Files = append(src.Files, File{Path: show(filepath.Base(f)), Root: root})
	}
	src.EnvFiles = readEnvFiles(dir, env, src.Files, show)
	return src, nil
}

func readYAML(file string) (*yaml.Node, error) {
	data, err := budget.ReadYAML(filepath.Base(file), file, budget.Compose)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// readEnvFiles reads .env, <env>.env and the env_file entries of every
// service, each once. A file named in env_file that is missing, or whose
// name needs interpolation, is skipped: the loader has already judged it.
func readEnvFiles(dir, env string, files []File, show func(string) string) []EnvFile {
	users := map[string][]string{} // env file (relative to dir) → services
	var order []string
	add := func(name, service string) {
		name = filepath.ToSlash(filepath.Clean(name))
		if _, ok := users[name]; !ok {
			order = append(order, name)
			users[name] = nil
		}
		if service != "" && !slices.Contains(users[name], service) {
			users[name] = append(users[name], service)
		}
	}
	add(".env", "")
	if env != "" {
		add(env+".env", "")
	}
	for _, f := range files {
		for _, svc := range services(f.Root) {
			for _, name := range envFileNames(svc.node) {
				if !hasInterpolation(name) && !filepath.IsAbs(name) {
					add(name, svc.name)
				}
			}
		}
	}
	var out []EnvFile
	for _, name := range order {
		data, err := budget.ReadFile(name, filepath.Join(dir, filepath.FromSlash(name)), budget.Compose.Bytes)
		if err != nil {
			continue
		}
		out = append(out, EnvFile{Path: show(name), Services: users[name], entries: parseEnv(string(data))})
	}
	return out
}

// envFileNames lists the files of a service's env_file: a string, a list
// of strings, or a list of {path, required}.
func envFileNames(svc *yaml.Node) []string {
	_, v := get(svc, "env_file")
	if v == nil {
		return nil
	}
	if v.Kind == yaml.ScalarNode {
		return []string{v.Value}
	}
	var out []string
	for _, item := range items(v) {
		switch item.Kind {
		case yaml.ScalarNode:
			out = append(out, item.Value)
		case yaml.MappingNode:
			if _, p := get(item, "path"); p != nil && p.Kind == yaml.ScalarNode {
				out = append(out, p.Value)
			}
		}
	}
	return out
}

type namedNode struct {
	name string
	key  *yaml.Node
	node *yaml.Node
}

// services lists the services of a compose file's top mapping.
func services(root *yaml.Node) []namedNode {
	_, svcs := get(root, "services")
	var out []namedNode
	for _, kv := range pairs(svcs) {
		out = append(out, namedNode{name: kv[0].Value, key: kv[0], node: resolve(kv[1])})
	}
	return out
}

// resolve follows an alias to its anchor.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// pairs lists a mapping's key/value pairs, with the keys merged in by
// `<<: *anchor` first and the mapping's own keys overriding them.
func pairs(m *yaml.Node) [][2]*yaml.Node {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var merged, own [][2]*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Value == "<<" && k.Tag == "!!merge" {
			for _, src := range mergeSources(v) {
				merged = append(merged, pairs(src)...)
			}
			continue
		}
		own = append(own, [2]*yaml.Node{k, v})
	}
	out := make([][2]*yaml.Node, 0, len(merged)+len(own))
	seen := map[string]int{}
	for _, kv := range append(merged, own...) {
		if i, ok := seen[kv[0].Value]; ok {
			out[i] = kv
			continue
		}
		seen[kv[0].Value] = len(out)
		out = append(out, kv)
	}
	return out
}

func mergeSources(v *yaml.Node) []*yaml.Node {
	v = resolve(v)
	if v == nil {
		return nil
	}
	if v.Kind == yaml.SequenceNode {
		return v.Content
	}
	return []*yaml.Node{v}
}

// get returns the key and the (alias-resolved) value of key in mapping m.
func get(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	for _, kv := range pairs(m) {
		if kv[0].Value == key {
			return kv[0], resolve(kv[1])
		}
	}
	return nil, nil
}

// items lists a sequence's items, aliases resolved.
func items(n *yaml.Node) []*yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = resolve(c)
	}
	return out
}

// service returns the key and the mapping of a service in a file.
func service(f File, name string) (*yaml.Node, *yaml.Node) {
	_, svcs := get(f.Root, "services")
	return get(svcs, name)
}

// locate finds where services.<name>.<field> is written: the file that
// writes the longest part of the field's path (the overlay on a tie, as it
// wins the merge), at the line of the deepest key found. When no file
// writes any of it, the service's line in the first file that has the
// service: the base, where a missing field is best added for every
// environment. Line 0 means the service is not written in any of the files
// (it came from extends or include).
func (s Sources) locate(name, field string) (string, int) {
	keys := strings.Split(field, ".")
	file, line, best := "", 0, -1
	for i := range s.Files {
		k, node := service(s.Files[i], name)
		if k == nil {
			continue
		}
		depth := 0
		for _, key := range keys {
			kk, v := get(node, key)
			if kk == nil {
				break
			}
			k, node, depth = kk, v, depth+1
		}
		if depth > best || (depth == best && depth > 0) {
			file, line, best = s.Files[i].Path, k.Line, depth
		}
	}
	if best < 0 && len(s.Files) > 0 {
		return s.Files[0].Path, 0
	}
	return file, line
}

// Locate finds where a service's field is written, for findings made
// outside this package. A field with an index (volumes[1].source,
// cap_add[0]) is located at its sequence's key.
func (s Sources) Locate(service, field string) (string, int) {
	if i := strings.IndexByte(field, '['); i >= 0 {
		field = field[:i]
	}
	return s.locate(service, field)
}

// LocateVolume finds the volumes item of a service that mounts at target.
func (s Sources) LocateVolume(service, target string) (string, int) {
	target = path.Clean(target)
	return s.locateItem(service, "volumes", func(n *yaml.Node) bool { return volumeTarget(n) == target })
}

// locateItem finds the item of a service's sequence field (volumes) for
// which match is true, overlay first; else it locates the field.
func (s Sources) locateItem(name, field string, match func(*yaml.Node) bool) (string, int) {
	for i := len(s.Files) - 1; i >= 0; i-- {
		_, node := service(s.Files[i], name)
		_, seq := get(node, field)
		for _, item := range items(seq) {
			if match(item) {
				return s.Files[i].Path, item.Line
			}
		}
	}
	return s.locate(name, field)
}

// Literal reports whether services.<service>.<key> is written in the
// compose files without a variable: then its values are the repository's
// text and may be shown. A key no file writes (it came from extends or
// include) or one that holds a $ is not literal: its values may come from
// the environment, which can hold host secrets.
func (s Sources) Literal(name, key string) bool {
	found := false
	for _, f := range s.Files {
		_, node := service(f, name)
		_, v := get(node, key)
		if v == nil {
			continue
		}
		if hasDollar(v, 0) {
			return false
		}
		found = true
	}
	return found
}

// LiteralTop is Literal for a top-level element, such as volumes.<name>.
func (s Sources) LiteralTop(section, name string) bool {
	found := false
	for _, f := range s.Files {
		_, sec := get(f.Root, section)
		_, v := get(sec, name)
		if v == nil {
			continue
		}
		if hasDollar(v, 0) {
			return false
		}
		found = true
	}
	return found
}

// hasDollar reports whether any scalar under n holds a $.
func hasDollar(n *yaml.Node, depth int) bool {
	n = resolve(n)
	if n == nil || depth > 64 {
		return n != nil
	}
	if n.Kind == yaml.ScalarNode {
		return strings.Contains(n.Value, "$")
	}
	for _, c := range n.Content {
		if hasDollar(c, depth+1) {
			return true
		}
	}
	return false
}
