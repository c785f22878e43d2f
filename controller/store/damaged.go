package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
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
		"(docs/recovery.md)", e.Path, e.Err, e.Path, e.Path)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// openChecked opens the file with bbolt and reads all of it once. bbolt
// panics on some damaged pages (a freelist cut short), and a damaged page
// deeper in the file would otherwise surface in the middle of a deploy.
func openChecked(path string, o *bolt.Options) (db *bolt.DB, err error) {
	if err := cutShort(path); err != nil {
		return nil, &DamagedError{Path: path, Err: err}
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

// cutShort reports a file shorter than its pages: bbolt maps the file and
// reading a page past its end kills the process (SIGBUS), which no
// recover catches. The newest valid meta page says how many pages there
// are; when neither is valid, bbolt itself refuses the file.
func cutShort(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // a new file, or one bbolt reports on
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	if fi.Size() == 0 {
		return errors.New("the file is empty")
	}
	pageSize := uint64(os.Getpagesize())
	m0, ok0 := readMeta(f, 0)
	if ok0 {
		pageSize = uint64(m0.pageSize)
	}
	m1, ok1 := readMeta(f, int64(pageSize))
	m := m0
	if !ok0 || ok1 && m1.txid > m0.txid {
		m = m1
	}
	if !ok0 && !ok1 {
		return nil
	}
	if need := m.pgid * uint64(m.pageSize); uint64(fi.Size()) < need {
		return fmt.Errorf("the file is %d bytes, cut short of the %d its pages take", fi.Size(), need)
	}
	return nil
}

// meta is what cutShort reads of a bbolt meta page.
type meta struct {
	pageSize   uint32
	pgid, txid uint64
}

// The meta page's layout (go.etcd.io/bbolt/internal/common): a 16-byte page
// header, then magic, version, page size, flags (4 bytes each), the root
// bucket (16), the freelist page, the high-water page id and the
// transaction id (8 each), and an FNV-64a checksum of all before it.
const (
	metaOffset = 16
	metaSize   = 64
	metaMagic  = 0xED0CDAED
)

func readMeta(f *os.File, at int64) (meta, bool) {
	b := make([]byte, metaSize)
	if _, err := f.ReadAt(b, at+metaOffset); err != nil {
		return meta{}, false
	}
	e := binary.NativeEndian
	h := fnv.New64a()
	h.Write(b[:56])
	if e.Uint32(b[0:]) != metaMagic || e.Uint32(b[4:]) != 2 || e.Uint64(b[56:]) != h.Sum64() {
		return meta{}, false
	}
	return meta{pageSize: e.Uint32(b[8:]), pgid: e.Uint64(b[40:]), txid: e.Uint64(b[48:])}, true
}
