package controller

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestMarkUsed(t *testing.T) {
	used := map[string]bool{}
	for _, src := range []string{
		"/data/mounts/web/aaaa",
		"/data/mounts/web/bbbb/sub/file",
		"/data/mounts/web",        // the folder itself names no entry
		"/data/mounts/webx/cccc",  // another stack's
		"/data/mounts/web/../api", // leaves it
		"/etc/passwd",
	} {
		markUsed(used, "/data/mounts/web", src)
	}
	if len(used) != 2 || !used["aaaa"] || !used["bbbb"] {
		t.Fatalf("used = %v", used)
	}
}

// TestRemoveUnusedNeverFollows: an entry that is a symlink is removed as a
// link; what it points at stays.
func TestRemoveUnusedNeverFollows(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	dir := filepath.Join(base, "mounts")
	for _, d := range []string{outside, filepath.Join(dir, "keep"), filepath.Join(dir, "old")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "precious"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	s := &stack{log: slog.New(slog.DiscardHandler)}
	s.removeUnused(dir, map[string]bool{"keep": true})
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "keep" {
		t.Fatalf("left %v", entries)
	}
	if _, err := os.Stat(filepath.Join(outside, "precious")); err != nil {
		t.Fatalf("removal followed a symlink: %v", err)
	}
}
