//go:build !linux

package compose

import (
	"io/fs"
	"time"
)

// fileMeta is unknown here: without a change time no stamp is sure, so
// stacks whose services read files are not remembered.
func fileMeta(fs.FileInfo) (string, time.Time, bool) { return "", time.Time{}, false }

// ownedByMe cannot be told here: the plan cache is not used.
func ownedByMe(fs.FileInfo) bool { return false }
