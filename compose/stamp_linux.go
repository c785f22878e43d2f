//go:build linux

package compose

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// fileMeta is what a file's metadata says of its identity and its last
// change (device, inode, size, modification and change times), and its
// change time.
func fileMeta(st fs.FileInfo) (string, time.Time, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return "", time.Time{}, false
	}
	meta := fmt.Sprintf("%d:%d:%d:%d.%d:%d.%d", sys.Dev, sys.Ino, sys.Size,
		sys.Mtim.Sec, sys.Mtim.Nsec, sys.Ctim.Sec, sys.Ctim.Nsec)
	return meta, time.Unix(sys.Ctim.Sec, sys.Ctim.Nsec), true
}

// ownedByMe reports whether this process's user owns the file.
func ownedByMe(st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Geteuid()
}
