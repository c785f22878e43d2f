package gitsource_test

import (
	"errors"
	"testing"

	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/gitsource/gittest"
)

func TestVerifyCommit(t *testing.T) {
	t.Parallel()
	trusted := gittest.NewKey(t, "Trusted Signer")
	stranger := gittest.NewKey(t, "Stranger")
	w := gittest.NewRepo(t)
	w.Write("a", "1")
	good := w.CommitSigned("signed by trusted", trusted)
	w.Write("a", "2")
	unsigned := w.Commit("unsigned")
	w.Write("a", "3")
	other := w.CommitSigned("signed by stranger", stranger)
	sshKey, _ := gittest.NewSSHKey(t)
	w.Write("a", "4")
	sshSigned := w.CommitSSHSigned("ssh signed", sshKey)
	w.Push()

	// The commits are real: git reads them back.
	if got := w.Run("log", "-1", "--format=%s", good); got != "signed by trusted" {
		t.Fatalf("git log: %q", got)
	}

	r := open(t, gitsource.Options{URL: w.Remote, Verify: &gitsource.Verifier{ArmoredKeyRing: trusted.Armored}})
	if err := r.VerifyCommit(good); err != nil {
		t.Fatalf("trusted signature refused: %v", err)
	}
	for _, tc := range []struct{ hash, want string }{
		{unsigned, "commit " + unsigned[:12] + ": not signed"},
		{other, "commit " + other[:12] + ": signature by a key that is not trusted (key id " +
			keyID(stranger) + ")"},
		{sshSigned, "SSH signatures cannot be verified"},
	} {
		err := r.VerifyCommit(tc.hash)
		wantErr(t, err, tc.want)
		if !errors.Is(err, gitsource.ErrUntrusted) {
			t.Fatalf("%v is not ErrUntrusted", err)
		}
	}

	// No Verifier: everything passes.
	plain := open(t, gitsource.Options{URL: w.Remote})
	if err := plain.VerifyCommit(unsigned); err != nil {
		t.Fatal(err)
	}
}

func keyID(k *gittest.Key) string {
	return k.Entity.PrimaryKey.KeyIdString()
}
