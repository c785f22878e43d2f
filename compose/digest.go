package compose

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
)

// digest hashes a sequence of length-prefixed fields, so that no two
// sequences share an encoding.
type digest struct{ h hash.Hash }

func newDigest() digest { return digest{sha256.New()} }

func (d digest) count(n int) { d.h.Write(binary.AppendUvarint(nil, uint64(n))) }

func (d digest) field(s string) {
	d.count(len(s))
	io.WriteString(d.h, s)
}

func (d digest) list(ss []string) {
	d.count(len(ss))
	for _, s := range ss {
		d.field(s)
	}
}

func (d digest) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }
