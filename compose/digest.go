package compose

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
)

// Digest hashes a sequence of length-prefixed fields, so that no two
// sequences share an encoding.
type Digest struct{ h hash.Hash }

func NewDigest() Digest { return Digest{sha256.New()} }

func (d Digest) Count(n int) { d.h.Write(binary.AppendUvarint(nil, uint64(n))) }

func (d Digest) Field(s string) {
	d.Count(len(s))
	io.WriteString(d.h, s)
}

func (d Digest) List(ss []string) {
	d.Count(len(ss))
	for _, s := range ss {
		d.Field(s)
	}
}

func (d Digest) Sum() string { return hex.EncodeToString(d.h.Sum(nil)) }
