package load

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose"
)

func TestReadSettings(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("compose.yaml", "x-berth:\n  hosts: [web-*]\nservices:\n  a: {image: x}\n")
	write("compose.staging.yaml", "x-berth:\n  hosts: [stage1]\n  prune_volumes: true\n")
	s, err := ReadSettings(dir, "")
	if err != nil || len(s.Hosts) != 1 || s.PruneVolumes {
		t.Fatalf("base settings = %+v, %v", s, err)
	}
	if !s.RunsOn("web-1") || s.RunsOn("db-1") {
		t.Fatalf("web-* should match web-1 only")
	}
	s, err = ReadSettings(dir, "staging")
	if err != nil || !s.RunsOn("stage1") || s.RunsOn("web-1") || !s.PruneVolumes {
		t.Fatalf("staging settings = %+v, %v", s, err)
	}
	if (compose.Settings{}).RunsOn("any") != true {
		t.Fatal("no hosts must mean every host")
	}
	write("compose.yaml", "x-berth:\n  host: [web-1]\nservices:\n  a: {image: x}\n")
	if _, err := ReadSettings(dir, ""); err == nil || !strings.Contains(err.Error(), "host") || !strings.Contains(err.Error(), "compose.yaml") {
		t.Fatalf("a misspelt key must be refused naming it and the file, got %v", err)
	}
}
