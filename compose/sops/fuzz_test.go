package sops

import (
	"os"
	"testing"
)

// FuzzParseSops: any file under any sops name parses or fails, without a
// panic, within the budget of its format.
func FuzzParseSops(f *testing.F) {
	for _, fx := range []string{"app.sops.env", "config.sops.yaml", "config.sops.json", "partial.sops.yaml"} {
		b, err := os.ReadFile(sopsFixtures + "/" + fx)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fx, b)
	}
	f.Add("x.sops.yaml", []byte("sops:\n  mac: x\n---\na: &a [1, 2]\nb: [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		if d, err := Parse(name, data); err == nil {
			_, _ = d.Plaintext()
		}
		_ = IsFile(name, data)
	})
}
