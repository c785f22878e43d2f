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

func (d Digest) count(n int) { d.h.Write(binary.AppendUvarint(nil, uint64(n))) }

func (d Digest) field(s string) {
	d.count(len(s))
	io.WriteString(d.h, s)
}

func (d Digest) List(ss []string) {
	d.count(len(ss))
	for _, s := range ss {
		d.field(s)
	}
}

func (d Digest) Sum() string { return hex.EncodeToString(d.h.Sum(nil)) }
