package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// AddDeploy records a deploy in its stack's history and sets d.ID. IDs come
// from one sequence for all stacks, so an ID names a deploy on this host and
// later deploys have larger IDs. The oldest deploys beyond MaxHistory are
// dropped in the same transaction.
func (s *Store) AddDeploy(d *Deploy) error {
	if d.Stack == "" {
		return errors.New("add deploy: no stack name")
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		all := tx.Bucket(bucketHistory)
		b, err := all.CreateBucketIfNotExists([]byte(d.Stack))
		if err != nil {
			return err
		}
		id, err := all.NextSequence()
		if err != nil {
			return err
		}
		rec := *d
		rec.ID = id
		v, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := b.Put(key(id), v); err != nil {
			return err
		}
		if err := trim(b, MaxHistory); err != nil {
			return err
		}
		d.ID = id
		return nil
	})
	if err != nil {
		return fmt.Errorf("record deploy of stack %q: %w", d.Stack, err)
	}
	return nil
}

// trim deletes the oldest entries of b beyond keep. It walks back from the
// newest key: Bucket.Stats would not count this transaction's writes.
func trim(b *bolt.Bucket, keep int) error {
	c := b.Cursor()
	k, _ := c.Last()
	for i := 0; i < keep && k != nil; i++ {
		k, _ = c.Prev()
	}
	var old [][]byte
	for ; k != nil; k, _ = c.Prev() {
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// History is a stack's deploys, newest first; at most limit of them when
// limit > 0.
func (s *Store) History(stack string, limit int) ([]Deploy, error) {
	var out []Deploy
	err := s.db.View(func(tx *bolt.Tx) error {
		all := tx.Bucket(bucketHistory)
		if all == nil {
			return nil
		}
		b := all.Bucket([]byte(stack))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var d Deploy
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("deploy %x: %w", k, err)
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history of stack %q: %w", stack, err)
	}
	return out, nil
}
