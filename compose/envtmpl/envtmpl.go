// Package envtmpl renders env templates: env files run through text/template
// with one function, secret, whose values reach the container byte for byte
// and never an error message.
package envtmpl

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"unicode"
)

// An env template is an env file run through text/template with one
// function, `secret`, so that `DB_PASSWORD={{ secret "db_password" }}` holds
// a host secret. Nothing else reaches the template: no data, no environment,
// no file but the secrets dir, by name.
//
// The secret must arrive in the container byte for byte, whatever it holds
// ($, quotes, #, spaces, newlines), and compose's dotenv reader would expand
// `$`, strip quotes and cut comments. So `secret` returns an unguessable
// placeholder, and once the template ran, each value holding one is
// rewritten as a double-quoted dotenv value with the secret escaped in it
// (the literal text around it keeps its meaning, ${VAR} included). The
// placeholder, not the secret, is what every parse error can show.

// Rendered is the result of rendering an env template.
type Rendered struct {
	Text string
}

// Render executes the template text named name (for errors)
// and returns dotenv text. lookup returns a secret's value.
func Render(name, text string, lookup func(string) (string, error)) (*Rendered, error) {
	token := make([]byte, 12)
	if _, err := rand.Read(token); err != nil {
		return nil, err
	}
	prefix := "BERTHSECRET" + hex.EncodeToString(token) + "N"
	var values, names []string
	funcs := template.FuncMap{"secret": func(name string) (string, error) {
		v, err := lookup(name)
		if err != nil {
			return "", err
		}
		values, names = append(values, v), append(names, name)
		return prefix + strconv.Itoa(len(values)-1) + "X", nil
	}}
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, templateError(name, err)
	}
	var out strings.Builder
	if err := t.Execute(&out, nil); err != nil {
		return nil, templateError(name, err)
	}
	r := envRewriter{src: out.String(), ph: regexp.MustCompile(prefix + `(\d+)X`), values: values}
	// A secret's value cannot be tested, cut or transformed: the template
	// only ever sees a placeholder. Each must reach the output whole.
	used := map[string]bool{}
	for _, m := range r.ph.FindAllStringSubmatch(r.src, -1) {
		used[m[1]] = true
	}
	for i, n := range names {
		if !used[strconv.Itoa(i)] {
			return nil, fmt.Errorf("env template %s: secret %q is not written as it is: write {{ secret %q }} where its value goes (a template cannot test or transform it)", name, n, n)
		}
	}
	res, err := r.rewrite()
	if err != nil {
		return nil, fmt.Errorf("env template %s: %w", name, err)
	}
	if strings.Contains(res.Text, prefix) {
		return nil, fmt.Errorf("env template %s: a secret was changed by a template function; write {{ secret \"NAME\" }} as it is", name)
	}
	return res, nil
}

// templateLine finds "NAME:LINE:" in text/template's messages.
var templateLine = regexp.MustCompile(`^template: [^:]*:(\d+):(?:\d+:)? ?`)

// SecretError is a secret that cannot be had; its message names it.
type SecretError struct{ Msg string }

func (e *SecretError) Error() string { return e.Msg }

// templateError says "env template app.env.tmpl, line 3: ..." and keeps only
// the cause of an execution error (text/template's own message repeats the
// action).
func templateError(name string, err error) error {
	line := ""
	if m := templateLine.FindStringSubmatch(err.Error()); m != nil {
		line = ", line " + m[1]
	}
	var se *SecretError
	if errors.As(err, &se) {
		return fmt.Errorf("env template %s%s: %w", name, line, se)
	}
	msg := templateLine.ReplaceAllString(err.Error(), "")
	return fmt.Errorf("env template %s%s: %s", name, line, msg)
}

// envRewriter walks rendered dotenv text the way compose-go's dotenv parser
// does, statement by statement, and rewrites each value that holds a
// placeholder.
type envRewriter struct {
	src    string
	ph     *regexp.Regexp
	values []string
	out    strings.Builder
	line   int
}

var exportPrefix = regexp.MustCompile(`^export\s+`)

func (r *envRewriter) rewrite() (*Rendered, error) {
	r.line = 1
	s := r.src
	for {
		// Blank space and comments between statements.
		i := strings.IndexFunc(s, func(c rune) bool { return !unicode.IsSpace(c) })
		if i < 0 {
			r.copy(s)
			break
		}
		r.copy(s[:i])
		s = s[i:]
		if s[0] == '#' {
			end := lineEnd(s)
			if r.ph.MatchString(s[:end]) {
				return nil, fmt.Errorf("line %d: a secret in a comment", r.line)
			}
			r.copy(s[:end])
			s = s[end:]
			continue
		}
		var err error
		if s, err = r.statement(s); err != nil {
			return nil, err
		}
	}
	return &Rendered{Text: r.out.String()}, nil
}

// statement copies or rewrites one KEY=VALUE (or KEY: VALUE, or a bare KEY)
// and returns the text after it.
func (r *envRewriter) statement(s string) (string, error) {
	start := 0
	if m := exportPrefix.FindStringIndex(s); m != nil {
		start = m[1]
	}
	sep := strings.IndexAny(s[start:], "=:\n")
	if sep < 0 {
		sep = len(s) - start
	}
	sep += start
	key := strings.TrimSpace(s[start:sep])
	if r.ph.MatchString(s[:sep]) {
		return "", fmt.Errorf("line %d: a secret in a variable name", r.line)
	}
	for _, c := range key {
		if !unicode.IsLetter(c) && !unicode.IsNumber(c) && !strings.ContainsRune("_.-[]", c) {
			return "", fmt.Errorf("line %d: unexpected character %q in a variable name", r.line, c)
		}
	}
	if sep == len(s) || s[sep] == '\n' { // KEY alone takes its value from the environment
		r.copy(s[:sep])
		return s[sep:], nil
	}
	// The separator, and the spaces (not newlines) before the value.
	v := sep + 1
	for v < len(s) && isDotenvSpace(rune(s[v])) {
		v++
	}
	r.copy(s[:v])
	s = s[v:]
	if s != "" && (s[0] == '"' || s[0] == '\'') {
		return r.quoted(s)
	}
	return r.unquoted(s)
}

// quoted handles a value in quotes, which may span lines.
func (r *envRewriter) quoted(s string) (string, error) {
	q := s[0]
	end := closingQuote(s, q)
	if end < 0 {
		return "", fmt.Errorf("line %d: unterminated quoted value", r.line)
	}
	body := s[1:end]
	if !r.ph.MatchString(body) {
		r.copy(s[:end+1])
		return s[end+1:], nil
	}
	if q == '\'' {
		body = dotenvEscape(unquoteBody(body, q), true)
	}
	r.emit(body, s[:end+1])
	return s[end+1:], nil
}

// unquoted handles a value to the end of the line: " #" starts a comment
// and trailing blanks are dropped, as in compose.
func (r *envRewriter) unquoted(s string) (string, error) {
	end := lineEnd(s)
	raw := s[:end]
	value, comment, _ := strings.Cut(raw, " #")
	if r.ph.MatchString(comment) {
		return "", fmt.Errorf("line %d: a secret in a comment", r.line)
	}
	value = strings.TrimRightFunc(value, unicode.IsSpace)
	if !r.ph.MatchString(value) {
		r.copy(raw)
		return s[end:], nil
	}
	r.emit(dotenvEscape(value, false), value)
	r.copy(raw[len(value):])
	return s[end:], nil
}

// emit writes body (double-quoted syntax, placeholders in it) as a
// double-quoted value with the secrets put in. orig is the text it
// replaces, for the line count.
func (r *envRewriter) emit(body, orig string) {
	body = r.ph.ReplaceAllStringFunc(body, func(p string) string {
		i, _ := strconv.Atoi(r.ph.FindStringSubmatch(p)[1])
		return dotenvEscape(r.values[i], true)
	})
	r.out.WriteString(`"` + body + `"`)
	r.line += strings.Count(orig, "\n")
}

func (r *envRewriter) copy(s string) {
	r.out.WriteString(s)
	r.line += strings.Count(s, "\n")
}

func lineEnd(s string) int {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return i
	}
	return len(s)
}

// isDotenvSpace is a blank that is not a line break.
func isDotenvSpace(c rune) bool {
	switch c {
	case '\t', '\v', '\f', '\r', ' ', 0x85, 0xA0:
		return true
	}
	return false
}

// closingQuote finds the quote that ends the value s starts, with compose's
// rule that a backslash escapes the next character; -1 when there is none.
func closingQuote(s string, q byte) int {
	escaped := false
	for i := 1; i < len(s); i++ {
		switch {
		case escaped:
			escaped = false
		case s[i] == '\\':
			escaped = true
		case s[i] == q:
			return i
		}
	}
	return -1
}

// unquoteBody is what compose keeps of a quoted body before expanding it:
// an escaped quote loses its backslash, every other backslash stays.
func unquoteBody(body string, q byte) string {
	var b strings.Builder
	escaped := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case escaped:
			escaped = false
			if c != q {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case c == '\\':
			escaped = true
		default:
			b.WriteByte(c)
		}
	}
	if escaped {
		b.WriteByte('\\')
	}
	return b.String()
}

// dotenvEscape writes s for the inside of double quotes: backslashes and
// quotes escaped always; with literal, `$` too (no expansion) and line
// breaks as \n and \r.
func dotenvEscape(s string, literal bool) string {
	pairs := []string{`\`, `\\`, `"`, `\"`}
	if literal {
		pairs = append(pairs, `$`, `\$`, "\n", `\n`, "\r", `\r`)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}
