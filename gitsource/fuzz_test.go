package gitsource

import (
	"path"
	"strings"
	"testing"
)

// FuzzExportPaths: a tree name with an empty, ".", ".." or NUL part is
// unsafe, and a symlink whose target, read lexically from its folder,
// leaves the export is always reported as escaping, whatever the other
// links of the tree.
func FuzzExportPaths(f *testing.F) {
	for _, s := range [][3]string{
		{"a/link", "../b", ""}, {"link", "../../etc/passwd", ""}, {"a/l", "x/../..", "a/x"},
		{"l", "l/../..", ""}, {"a/b", "/etc", ""}, {"d/l", "../d/./f", "d"}, {"x/./y", ".", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, name, target, other string) {
		parts := strings.Split(name, "/")
		bad := false
		for _, p := range parts {
			bad = bad || p == "" || p == "." || p == ".." || strings.ContainsRune(p, 0)
		}
		if safeName(name) == bad {
			t.Fatalf("safeName(%q) = %v", name, !bad)
		}
		if bad || !safeName(other) || other == name {
			return
		}
		links := map[string]string{name: target, other: "."}
		lexical := path.Clean(path.Join(path.Dir(name), target))
		if (path.IsAbs(target) || lexical == ".." || strings.HasPrefix(lexical, "../")) && !escapes(links, name) {
			// Another link can only move the walk further: a link to "."
			// never brings it back inside.
			t.Fatalf("link %s -> %s leaves the export but is not reported (with %s -> .)", name, target, other)
		}
	})
}
