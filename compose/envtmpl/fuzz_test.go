package envtmpl

import (
	"strings"
	"testing"
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
			return "", &SecretError{Msg: "secret missing is not set"}
		}
		return fuzzSecret, nil
	}
	f.Fuzz(func(t *testing.T, text string) {
		if strings.Contains(text, "fz-s3cr") {
			return // the template holds the value itself
		}
		_, err := Render("app.env.tmpl", text, lookup)
		if err != nil && strings.Contains(err.Error(), "fz-s3cr") {
			t.Fatalf("the error shows the secret: %v", err)
		}
	})
}
