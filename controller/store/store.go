// Package store keeps what the controller knows between runs: each stack's
// state and its deploy history, in a bbolt file in the data dir.
//
// bbolt locks the file, so one `berth run` owns a data dir; `berth status`
// opens it read-only when no controller is running. Values are JSON so the
// file can be read with bbolt's tools and survives added fields.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// MaxHistory is how many deploys are kept per stack; older ones are dropped.
const MaxHistory = 200

// lockTimeout bounds the wait for the file lock: another berth holding it
// will not let go soon, so say so instead of hanging.
const lockTimeout = time.Second

var (
	bucketStacks  = []byte("stacks")  // stack name → StackState
	bucketHistory = []byte("history") // stack name → bucket of ID → Deploy
)

// StackState is what the controller knows of one stack.
type StackState struct {
	Stack string `json:"stack"`
	// Project is the compose project name at the applied commit, which is
	// what to remove when the stack leaves the repo.
	Project string `json:"project,omitempty"`
	// State is "in sync", "deploying", "stalled", "retrying", "failed",
	// "rolled back", "drifted", "suspended", "waiting for window" or
	// "removed".
	State     string `json:"state"`
	Applied   string `json:"applied,omitempty"`   // the commit whose state runs
	Attempted string `json:"attempted,omitempty"` // the last commit tried
	Good      string `json:"good,omitempty"`      // the last commit that deployed
	Head      string `json:"head,omitempty"`      // the ref's head when last looked at
	Error     string `json:"error,omitempty"`
	// Since is when State last changed.
	Since   time.Time `json:"since"`
	Updated time.Time `json:"updated"`
	// PruneVolumes is x-berth's setting at the applied commit, kept for
	// when the stack is removed and its files are gone.
	PruneVolumes bool `json:"prune_volumes,omitempty"`
	// Failed is a commit whose deploy failed verification: it is never
	// retried by itself; a new commit or `berth retry` clears it.
	Failed string `json:"failed,omitempty"`
	// Halted is set when even the rollback failed: berth leaves the stack
	// alone, drift included, until a new commit or a person acts.
	Halted bool `json:"halted,omitempty"`
	// Pinned is the commit `berth rollback` put the stack on; while set the
	// stack does not follow the branch.
	Pinned string `json:"pinned,omitempty"`
	// Suspended stops berth from acting on the stack at all.
	Suspended bool `json:"suspended,omitempty"`
	// Retry says, while the stack is retrying, what may pass ("engine
	// unreachable") and RetryAt when berth tries again.
	Retry   string    `json:"retry,omitempty"`
	RetryAt time.Time `json:"retry_at,omitzero"`
	// WindowOpens is, while the stack is waiting for a deploy window, when
	// the next one opens (zero when none opens within a year).
	WindowOpens time.Time `json:"window_opens,omitzero"`
	// Override names who asked, with `berth sync --override-window`, that
	// the next deploy go ahead outside the deploy windows; the deploy
	// clears it.
	Override string `json:"override,omitempty"`
}

// Deploy is one attempt to bring a stack to a commit.
type Deploy struct {
	ID      uint64    `json:"id"`
	Stack   string    `json:"stack"`
	Commit  string    `json:"commit"`
	Author  string    `json:"author,omitempty"`
	Message string    `json:"message,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	// Outcome is "succeeded", "failed", "rolled back", "stalled",
	// "removed" or "drift corrected".
	Outcome    string   `json:"outcome"`
	Error      string   `json:"error,omitempty"`
	Operations []string `json:"operations,omitempty"`
	// Warnings are the lint warnings of the commit deployed.
	Warnings []string `json:"warnings,omitempty"`
	// By names who asked for a deploy outside the deploy windows.
	By string `json:"by,omitempty"`
}

// Store is the state database. Its methods are safe for concurrent use.
type Store struct {
	db *bolt.DB
}

// Open opens or creates the database file at path (mode 0600) for the
// controller. It fails within a second when another process has it open.
func Open(path string) (*Store, error) {
	db, err := open(path, false)
	if err != nil {
		return nil, err
	}
	// A file made by hand or by an older berth may be wider: the history
	// holds the stacks' errors, for berth's user only.
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketStacks, bucketHistory} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// OpenReadOnly opens an existing database for reading, as `berth status`
// does when no controller runs. A running controller holds the lock, so
// this fails like Open then.
func OpenReadOnly(path string) (*Store, error) {
	db, err := open(path, true)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

func open(path string, readOnly bool) (*bolt.DB, error) {
	db, err := openChecked(path, &bolt.Options{Timeout: lockTimeout, ReadOnly: readOnly})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("data dir %s is locked by another berth (is berth run already running?)", filepath.Dir(path))
	}
	var damaged *DamagedError
	if errors.As(err, &damaged) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return db, nil
}

// Close releases the file and its lock.
func (s *Store) Close() error { return s.db.Close() }

// PutState records a stack's state as given, replacing the previous one.
func (s *Store) PutState(st StackState) error {
	if st.Stack == "" {
		return errors.New("put state: no stack name")
	}
	v, err := json.Marshal(st)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStacks).Put([]byte(st.Stack), v)
	})
	if err != nil {
		return fmt.Errorf("put state of stack %q: %w", st.Stack, err)
	}
	return nil
}

// State is a stack's recorded state; ok is false when there is none.
func (s *Store) State(stack string) (st StackState, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketStacks)
		if b == nil { // a file whose first write never finished
			return nil
		}
		v := b.Get([]byte(stack))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &st)
	})
	if err != nil {
		return StackState{}, false, fmt.Errorf("state of stack %q: %w", stack, err)
	}
	return st, ok, nil
}

// States is every recorded stack's state, by name.
func (s *Store) States() ([]StackState, error) {
	var out []StackState
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketStacks)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var st StackState
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("stack %q: %w", k, err)
			}
			out = append(out, st)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read states: %w", err)
	}
	return out, nil
}

// DeleteStack forgets a stack's state. Its history stays, so what was
// deployed before the stack was removed can still be looked up.
func (s *Store) DeleteStack(stack string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStacks).Delete([]byte(stack))
	})
	if err != nil {
		return fmt.Errorf("delete state of stack %q: %w", stack, err)
	}
	return nil
}

// key is a deploy ID in big-endian, so that keys sort by ID.
func key(id uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, id)
}
