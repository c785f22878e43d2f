package gittest

import (
	"bytes"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Key is an OpenPGP signing key.
type Key struct {
	Entity *openpgp.Entity
	// Armored is the public key, ASCII-armored: a Verifier's ArmoredKeyRing.
	Armored string
}

// NewKey makes an ed25519 OpenPGP key for name (fast, unlike RSA).
func NewKey(t testing.TB, name string) *Key {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
	e, err := openpgp.NewEntity(name, "", strings.ToLower(strings.ReplaceAll(name, " ", "."))+"@berth.invalid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &Key{Entity: e, Armored: buf.String()}
}

// CommitSigned stages everything and commits with an OpenPGP signature made
// by k, as git commit -S would with gpg. The tree and the ref update go
// through the git CLI; go-git encodes the commit and go-crypto signs it.
func (w *Work) CommitSigned(msg string, k *Key) string {
	w.t.Helper()
	w.Run("add", "-A")
	now := time.Now()
	c := &object.Commit{
		Author:    object.Signature{Name: "Berth Test", Email: "test@berth.invalid", When: now},
		Committer: object.Signature{Name: "Berth Test", Email: "test@berth.invalid", When: now},
		Message:   msg + "\n",
		TreeHash:  plumbing.NewHash(w.Run("write-tree")),
	}
	if parent := w.revParse("HEAD"); parent != "" {
		c.ParentHashes = []plumbing.Hash{plumbing.NewHash(parent)}
	}
	unsigned := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(unsigned); err != nil {
		w.t.Fatal(err)
	}
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, k.Entity, reader(w.t, unsigned), nil); err != nil {
		w.t.Fatal(err)
	}
	c.PGPSignature = sig.String()
	signed := &plumbing.MemoryObject{}
	if err := c.Encode(signed); err != nil {
		w.t.Fatal(err)
	}
	raw, err := io.ReadAll(reader(w.t, signed))
	if err != nil {
		w.t.Fatal(err)
	}
	hash := gitIn(w.t, w.Dir, raw, "hash-object", "-t", "commit", "-w", "--stdin")
	w.Run("update-ref", "HEAD", hash)
	return hash
}

// CommitSSHSigned stages everything and commits with an SSH signature
// (gpg.format=ssh) made with the private key in keyFile. It skips the test
// when ssh-keygen, which git signs with, is missing.
func (w *Work) CommitSSHSigned(msg, keyFile string) string {
	w.t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		w.t.Skip("ssh-keygen not found")
	}
	w.Run("add", "-A")
	w.Run("-c", "gpg.format=ssh", "-c", "user.signingkey="+keyFile,
		"commit", "-q", "--allow-empty", "--no-verify", "-S", "-m", msg)
	return w.Head()
}

func (w *Work) revParse(rev string) string {
	cmd := exec.Command("git", "rev-parse", "-q", "--verify", rev)
	cmd.Dir = w.Dir
	cmd.Env = Env(home(w.t))
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}

func reader(t testing.TB, o plumbing.EncodedObject) io.Reader {
	t.Helper()
	r, err := o.Reader()
	if err != nil {
		t.Fatal(err)
	}
	return r
}
