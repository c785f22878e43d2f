package compose

import (
	"os"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// fuzzSecret is the value every secret of FuzzEnvTemplate holds: it must
// never reach an error.
const fuzzSecret = `fz-s3cr$t "q" #c` + "\n" + `'x'`

// FuzzEnvTemplate: rendering never panics and never puts a secret in an
// error.
func FuzzEnvTemplate(f *testing.F) {
	for _, s := range []string{
		"A=1\n", `DB={{ secret "db" }}` + "\n", `URL="postgres://u:{{ secret "db" }}@h/db"` + "\n",
		"X='{{ secret \"db\" }}'\n", "{{ if }}", "{{ secret \"missing\" }}", "A=${B}\n# c\nexport C=d\n",
	} {
		f.Add(s)
	}
	lookup := func(name string) (string, error) {
		if name == "missing" {
			return "", &secretError{msg: "secret missing is not set"}
		}
		return fuzzSecret, nil
	}
	f.Fuzz(func(t *testing.T, text string) {
		if strings.Contains(text, "fz-s3cr") {
			return // the template holds the value itself
		}
		_, err := renderEnvTemplate("app.env.tmpl", text, lookup)
		if err != nil && strings.Contains(err.Error(), "fz-s3cr") {
			t.Fatalf("the error shows the secret: %v", err)
		}
	})
}

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
		if d, err := parseSops(name, data); err == nil {
			_, _ = d.plaintext()
		}
		_ = isSopsFile(name, data)
	})
}

// FuzzSettings: any x-berth mapping, of a stack or of a service, decodes
// or fails with an error, without a panic.
func FuzzSettings(f *testing.F) {
	for _, s := range []string{
		"hosts: [a, b]\nprune_volumes: true\n", "verify: [{http: http://web/health, timeout: 2s}]\n",
		"order: start-first\nparallelism: 2\nrole: migrate\n", "hosts: 3\n", "bake: -1s\n", "[1, 2]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var raw any
		if yaml.Unmarshal(data, &raw) != nil {
			return
		}
		for _, full := range []bool{false, true} {
			d := decoder{where: "x-berth", full: full}
			var s Settings
			d.stack(&s, raw)
			_ = d.err()
		}
		svc := types.ServiceConfig{Name: "web", Extensions: types.Extensions{"x-berth": raw}}
		_, _ = ReadServiceSettings(svc)
	})
}
