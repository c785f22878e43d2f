package envtmpl

import (
	"errors"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

// nastySecrets hold everything compose's dotenv reader would otherwise
// expand, unquote, cut or trim.
var nastySecrets = map[string]string{
	"dollar":    `pa$word${HOME}$$x`,
	"quotes":    `it's "quoted" \'`,
	"backslash": `C:\new\table\\`,
	"hash":      `abc #not a comment`,
	"spaces":    `  padded  `,
	"newline":   "line1\nline2\r\n",
	"equals":    `a=b:c`,
	"empty":     ``,
}

func lookupIn(m map[string]string) func(string) (string, error) {
	return func(name string) (string, error) {
		v, ok := m[name]
		if !ok {
			return "", &SecretError{Msg: "secret " + name + " is not there"}
		}
		return v, nil
	}
}

// parseRendered reads rendered text as compose reads an env file.
func parseRendered(t *testing.T, text string, env map[string]string) map[string]string {
	t.Helper()
	out, err := dotenv.ParseWithLookup(strings.NewReader(text), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("compose cannot read the rendered file: %v\n%s", err, text)
	}
	return out
}

func TestEnvTemplateKeepsEverySecretIntact(t *testing.T) {
	for name, secret := range nastySecrets {
		for _, form := range []struct{ line, prefix, suffix string }{
			{`V={{ secret "%s" }}`, "", ""},
			{`V="{{ secret "%s" }}"`, "", ""},
			{`V='{{ secret "%s" }}'`, "", ""},
			{`export V = x-{{ secret "%s" }}-y # trailing comment`, "x-", "-y"},
			{`V: "pre ${OTHER} {{ secret "%s" }}"`, "pre other ", ""},
			{`V=pre-$OTHER-{{ secret "%s" }}`, "pre-other-", ""},
			{`V='lit $OTHER \' {{ secret "%s" }}'`, `lit $OTHER ' `, ""},
		} {
			text := "# a comment\nFIRST=1\n" + strings.ReplaceAll(form.line, "%s", name) + "\nLAST=2\n"
			res, err := Render("app.env.tmpl", text, lookupIn(nastySecrets))
			if err != nil {
				t.Fatalf("%s in %s: %v", name, form.line, err)
			}
			got := parseRendered(t, res.Text, map[string]string{"OTHER": "other"})
			if want := form.prefix + secret + form.suffix; got["V"] != want {
				t.Errorf("%s in %s: V = %q, want %q\nrendered:\n%s", name, form.line, got["V"], want, res.Text)
			}
			if got["FIRST"] != "1" || got["LAST"] != "2" {
				t.Errorf("%s in %s: neighbours changed: %q", name, form.line, got)
			}
		}
	}
}

func TestEnvTemplateLeavesOtherLinesAlone(t *testing.T) {
	text := "# header\nA=plain # comment\nB=\"quoted ${X}\"\nC='multi\nline'\nINHERITED\nD={{ secret \"s\" }}\n"
	res, err := Render("t", text, lookupIn(map[string]string{"s": "v"}))
	if err != nil {
		t.Fatal(err)
	}
	want := "# header\nA=plain # comment\nB=\"quoted ${X}\"\nC='multi\nline'\nINHERITED\nD=\"v\"\n"
	if res.Text != want {
		t.Errorf("rendered\n%s\nwant\n%s", res.Text, want)
	}
}

func TestEnvTemplateErrors(t *testing.T) {
	secrets := map[string]string{"s": "canary-tmpl-err-41"}
	for _, tc := range []struct{ text, want string }{
		{"A=1\nB={{ secret \"missing\" }}\n", `env template app.env.tmpl, line 2: secret missing is not there`},
		{"A={{ env \"HOME\" }}\n", `env template app.env.tmpl, line 1: function "env" not defined`},
		{"A=1\n# {{ secret \"s\" }}\n", "line 2: a secret in a comment"},
		{"A=x # {{ secret \"s\" }}\n", "line 1: a secret in a comment"},
		{"K{{ secret \"s\" }}=1\n", "line 1: a secret in a variable name"},
		{"A='{{ secret \"s\" }}\n", "line 1: unterminated quoted value"},
		{"A={{ printf \"%.8s\" (secret \"s\") }}\n", "is not written as it is"},
		{"A={{ readFile \"/etc/passwd\" }}\n", `function "readFile" not defined`},
	} {
		_, err := Render("app.env.tmpl", tc.text, lookupIn(secrets))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "canary-tmpl-err-41") {
			t.Errorf("%q: the error shows the secret: %v", tc.text, err)
		}
	}
	_, err := Render("app.env.tmpl", "A={{ secret \"missing\" }}\n", lookupIn(secrets))
	var se *SecretError
	if !errors.As(err, &se) {
		t.Errorf("a missing secret is not a SecretError: %T", err)
	}
}

func TestEnvTemplateSeesNoData(t *testing.T) {
	for _, text := range []string{"A={{ .HOME }}\n", "A={{ .Env.HOME }}\n"} {
		res, err := Render("t", text, lookupIn(nil))
		if err == nil && strings.Contains(res.Text, "/") {
			t.Errorf("%q rendered %q", text, res.Text)
		}
	}
}
