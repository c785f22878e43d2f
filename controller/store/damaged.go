package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// DamagedError is a state file that cannot be read: cut short, partly
// overwritten, or not a state file at all. berth refuses to start on it
// rather than start from nothing behind the operator's back; the message
// says how to recover.
type DamagedError struct {
	Path string
	Err  error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("state file %s is damaged: %v; berth will not start on it. To recover, move it aside "+
		"(mv %s %s.damaged) and start berth again: it finds each stack's running containers by their labels and "+
		"keeps those that match the branch head without restarting them; the deploy history starts empty "+
		"(docs/recovery.md)", e.Path, e.Err, e.Path, filepath.Base(e.Path))
}

func (e *DamagedError) Unwrap() error { return e.Err }

// openChecked opens the file with bbolt and reads all of it once. bbolt
// panics on some damaged pages (a freelist cut short), and a damaged page
// deeper in the file would otherwise surface in the middle of a deploy.
func openChecked(path string, o *bolt.Options) (db *bolt.DB, err error) {
	if fi, serr := os.Stat(path); serr == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
		return nil, &DamagedError{Path: path, Err: errors.New("the file is empty")}
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				db, err = nil, &DamagedError{Path: path, Err: fmt.Errorf("%v", r)}
			}
		}()
		db, err = bolt.Open(path, 0o600, o)
	}()
	if err != nil {
		if !damage(err) {
			return nil, err
		}
		var d *DamagedError
		if !errors.As(err, &d) {
			err = &DamagedError{Path: path, Err: err}
		}
		return nil, err
	}
	if err := check(db); err != nil {
		db.Close()
		return nil, &DamagedError{Path: path, Err: err}
	}
	return db, nil
}

// damage tells an error about the file's content from one about the host
// (permissions, a full disk, I/O), which moving the file aside would not fix.
func damage(err error) bool {
	var errno syscall.Errno
	return !errors.Is(err, fs.ErrPermission) && !errors.Is(err, fs.ErrNotExist) && !errors.As(err, &errno)
}

// check walks every page and decodes every stack's state.
func check(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // read to the end: Check's goroutine sends until done
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return first
		}
		b := tx.Bucket(bucketStacks)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var st StackState
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("stack %q: %w", k, err)
			}
			return nil
		})
	})
}
