package gitsource

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// VerifyError says why a commit's signature was refused. It is ErrUntrusted.
type VerifyError struct {
	Commit string // short hash
	Reason string
}

func (e *VerifyError) Error() string        { return "commit " + e.Commit + ": " + e.Reason }
func (e *VerifyError) Is(target error) bool { return target == ErrUntrusted }

// VerifyCommit checks that a commit carries an OpenPGP signature made by one
// of the keys in Options.Verify. With no Verifier it returns nil.
//
// SSH signatures (gpg.format=ssh) are refused: go-git v5 verifies OpenPGP
// only. X.509 (gpgsm) signatures are refused likewise.
func (r *Repo) VerifyCommit(hash string) error {
	if r.opts.Verify == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.commit(hash)
	if err != nil {
		return err
	}
	refuse := func(format string, a ...any) error {
		return &VerifyError{Commit: Short(c.Hash.String()), Reason: fmt.Sprintf(format, a...)}
	}
	sig := strings.TrimSpace(c.PGPSignature)
	switch {
	case sig == "":
		return refuse("not signed")
	case strings.HasPrefix(sig, "-----BEGIN SSH SIGNATURE-----"):
		return refuse("signed with an SSH key; SSH signatures cannot be verified, sign with OpenPGP")
	case !strings.HasPrefix(sig, "-----BEGIN PGP "):
		return refuse("signed in a format that cannot be verified (only OpenPGP is supported)")
	}
	_, err = c.Verify(r.opts.Verify.ArmoredKeyRing)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return refuse("signature by a key that is not trusted (key id %s)", issuer(sig))
	}
	return refuse("bad signature (key id %s): %v", issuer(sig), err)
}

// issuer reads the key id out of an armored signature, for messages.
func issuer(armored string) string {
	block, err := armor.Decode(strings.NewReader(armored))
	if err != nil {
		return "unknown"
	}
	p, err := packet.Read(block.Body)
	if err != nil {
		return "unknown"
	}
	sig, ok := p.(*packet.Signature)
	switch {
	case !ok:
		return "unknown"
	case sig.IssuerKeyId != nil:
		return fmt.Sprintf("%016X", *sig.IssuerKeyId)
	case len(sig.IssuerFingerprint) > 0:
		return fmt.Sprintf("%X", sig.IssuerFingerprint)
	}
	return "unknown"
}
