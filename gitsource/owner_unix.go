//go:build unix

package gitsource

import (
	"io/fs"
	"syscall"
)

// owner is the uid that owns a file.
func owner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// noFollow makes an open fail on a symlink.
const noFollow = syscall.O_NOFOLLOW
