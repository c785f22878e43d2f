package compose_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/berth-gitops/berth/"

// allowedImports is the one-way order of the compose packages, by pipeline
// stage: each package may import only the berth packages listed for it.
// The root is the vocabulary and the pure planner and imports none.
var allowedImports = map[string][]string{
	"compose/budget":  nil,
	"compose/envtmpl": nil,
	"compose":         {"compose/budget"},
	"compose/sops":    {"compose/budget"},
	"compose/convert": {"compose", "compose/budget"},
	"compose/observe": {"compose"},
	"compose/load":    {"compose", "compose/budget", "compose/convert", "compose/envtmpl", "compose/sops"},
	"compose/apply":   {"compose", "compose/convert", "compose/observe"},
	"compose/compare": {"compose", "compose/load", "compose/stacks", "gitsource"},
	"compose/lint":    {"compose", "compose/budget", "compose/load"},
	"compose/stacks":  {"compose", "compose/load"},
}

// TestImportsPointOneWay reads the import clauses of every package under
// compose (production files) and fails on an import the order above does
// not allow, or on a package it does not place.
func TestImportsPointOneWay(t *testing.T) {
	found := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Join("compose", filepath.Dir(path)))
		found[pkg] = true
		allowed, ok := allowedImports[pkg]
		if !ok {
			t.Errorf("%s: package %s has no place in allowedImports", path, pkg)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			if dep, ok := strings.CutPrefix(p, module); ok && !slices.Contains(allowed, dep) {
				t.Errorf("%s: %s imports %s; it may import only %v", path, pkg, dep, allowed)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg := range allowedImports {
		if !found[pkg] {
			t.Errorf("allowedImports names %s, which has no Go files", pkg)
		}
	}
}
