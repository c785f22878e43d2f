//go:build unix

package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockImages serialises image builds across test processes: `go test ./...`
// runs packages in parallel, and two legacy builds of one tag would each make
// their own image ID, leaving the first test holding an untagged image.
func lockImages() (unlock func(), err error) {
	path := filepath.Join(os.TempDir(), "berth-testimage.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open image build lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Closing the file releases the lock.
	return func() { f.Close() }, nil
}
