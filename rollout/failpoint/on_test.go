//go:build failpoints

package failpoint

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPause: an armed pause holds the caller until the release file
// appears, and fires once.
func TestPause(t *testing.T) {
	file := filepath.Join(t.TempDir(), "release")
	t.Setenv("BERTH_FAILPOINT", "gate:pause")
	t.Setenv("BERTH_FAILPOINT_FILE", file)
	Inject("create") // another step: returns at once
	done := make(chan struct{})
	go func() { Inject("gate"); close(done) }()
	for {
		if _, err := os.Stat(file + ".paused"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("Inject returned before the release file existed")
	default:
	}
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	<-done
	Inject("gate") // fired already: returns at once
}
