//go:build !linux

package compose

import (
	"io/fs"
	"time"
)

// fileMeta is unknown here: without a change time no stamp is sure.
func fileMeta(fs.FileInfo) (string, time.Time, bool) { return "", time.Time{}, false }

// ownedByMe cannot be told here, so the plan cache is not used at all on
// systems other than Linux: every plan loads the files.
func ownedByMe(fs.FileInfo) bool { return false }
