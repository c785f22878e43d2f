package controller

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-gitops/berth/compose/lint"
	"github.com/berth-gitops/berth/compose/load"
	"github.com/berth-gitops/berth/controller/policy"
)

// TestPolicyRefusesTheRenderDir: the folder berth renders a stack's env
// files and decrypted secrets into is berth's own; a container that
// mounts it could read what a load writes there and swap its folders for
// symlinks while berth writes.
func TestPolicyRefusesTheRenderDir(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "stacks", "shop", "abcd")
	render := filepath.Join(data, "rendered", "shop")
	for _, d := range []string{dir, render} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	yaml := "services:\n  app:\n    image: example/app:1\n    volumes: [\"" + render + ":/r\", \"./conf:/conf:ro\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &stack{name: "shop", dir: dir, c: &Controller{o: Options{RenderRoot: filepath.Join(data, "rendered"), PolicyRefused: []string{data}}}}
	p, err := load.Load(context.Background(), load.LoadOptions{Dir: dir, RenderDir: render})
	if err != nil {
		t.Fatal(err)
	}
	src, err := lint.ReadSources(dir, "", "stacks/shop")
	if err != nil {
		t.Fatal(err)
	}
	fs := policy.Settings{}.Check(p, s.policyTarget(src))
	if len(fs) != 1 || fs[0].Rule != policy.RuleHostSystemMount || fs[0].Field != "volumes[0].source" {
		t.Fatalf("want the render dir refused, got %v", fs)
	}
}
