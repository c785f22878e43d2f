package load

import (
	"errors"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
)

// A load error reaches status, history, the log, notifications, commit
// statuses and a pull request's CI output. The readers that produce it
// (YAML, dotenv, interpolation, type casts, text/template, sops) quote what
// they could not read, and what they read may be a secret: a host file, an
// env file line, a decrypted value, the process environment. So every load
// error passes through scrubLoadError, which keeps what names the problem
// (file, line, service, field, variable names) and hides quoted or trailing
// content. renderer.redact, before it, strips each value the load read
// from the secrets dir, from sops files and through interpolation.

// hidden replaces content in a load error.
const hidden = "***"

var (
	// `...` is YAML's quoting of a scalar it cannot decode.
	backquoted = regexp.MustCompile("`[^`\n]*`")
	// "..." with Go's escapes, and '...' that is not an apostrophe, each
	// with the word before it.
	doubleQuoted = regexp.MustCompile(`(\w*)(\s*)"(?:[^"\\\n]|\\.)*"`)
	singleQuoted = regexp.MustCompile(`(\w*)(\s*)'([^'\n]*)'([\s,.;:)\]]|$)`)
	// Readers that print the offending text unquoted after a colon:
	// "invalid containerPort: 80x", "unterminated quoted value ...".
	trailingValue = regexp.MustCompile(`(?m)([Ii]nvalid [A-Za-z ]+:|unterminated quoted value) .*$`)
	// text/template's missing map key is a word of the template.
	templateKey = regexp.MustCompile(`no entry for key "(?:[^"\\\n]|\\.)*"`)
	// text/template's "at <.action>".
	templateAction = regexp.MustCompile(`at <[^>\n]*>`)
	// compose-go's field paths, quoted by its decoder: 'services[web].ports'.
	fieldPath = regexp.MustCompile(`^(services|networks|volumes|secrets|configs|include|models|name)([\[.]|$)`)
)

// nameWords are the words after which a quoted string is a name berth
// must show (`service "web" refers to undefined network "back"`), not
// content.
var nameWords = map[string]bool{
	"service": true, "services": true, "network": true, "networks": true, "volume": true,
	"volumes": true, "secret": true, "secrets": true, "config": true, "configs": true,
	"key": true, "keys": true, "property": true, "properties": true, "profile": true,
	"field": true, "stack": true, "project": true, "variable": true, "extends": true,
}

// scrub is the one way out of a load for an error: content hidden,
// values read stripped (see redactText), paths in the stack folder shown
// relative to it. An error it changes loses its chain: the wrapped errors
// still hold the text. names are the stack's files, shown as they are.
func (r *renderer) scrub(err error, names []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	keep := make([]string, 0, len(names))
	for _, n := range names {
		keep = append(keep, strings.TrimPrefix(n, r.dir+"/"))
	}
	out := r.redactText(scrubText(msg, r.dir), keep)
	if out == msg {
		return err
	}
	return errors.New(out)
}

// rememberSubstituted remembers a value interpolation put in, once.
func (r *renderer) rememberSubstituted(v string) {
	if !r.substituted[v] {
		r.substituted[v] = true
		r.remember(v)
	}
}

func scrubText(msg, dir string) string {
	if dir != "" {
		msg = strings.ReplaceAll(msg, dir+"/", "")
	}
	// The interpolation error's last line is the template it could not read.
	if before, _, ok := strings.Cut(msg, "You may need to escape any $ with another $.\n"); ok {
		msg = before + "You may need to escape any $ with another $."
	}
	msg = backquoted.ReplaceAllString(msg, hidden)
	msg = templateAction.ReplaceAllString(msg, "at <"+hidden+">")
	msg = templateKey.ReplaceAllString(msg, `no entry for key "`+hidden+`"`)
	msg = trailingValue.ReplaceAllString(msg, "$1 "+hidden)
	msg = doubleQuoted.ReplaceAllStringFunc(msg, func(m string) string {
		g := doubleQuoted.FindStringSubmatch(m)
		body := m[len(g[1])+len(g[2]):]
		if keepQuoted(g[1], body[1:len(body)-1]) {
			return m
		}
		return g[1] + g[2] + `"` + hidden + `"`
	})
	return singleQuoted.ReplaceAllStringFunc(msg, func(m string) string {
		g := singleQuoted.FindStringSubmatch(m)
		if keepQuoted(g[1], g[3]) {
			return m
		}
		return g[1] + g[2] + "'" + hidden + "'" + g[4]
	})
}

// keepQuoted reports whether a quoted string is a name: it follows a name
// word, or it is one of compose-go's field paths.
func keepQuoted(word, body string) bool {
	return nameWords[strings.ToLower(word)] || fieldPath.MatchString(body)
}

// recordInterpolation makes compose-go's interpolation report each value
// it substitutes, so that an error quoting one does not show it.
func (r *renderer) recordInterpolation(o *loader.Options) {
	if o.Interpolate == nil || o.Interpolate.Substitute == nil {
		return
	}
	in := *o.Interpolate
	substitute := in.Substitute
	in.Substitute = func(tpl string, lookup template.Mapping) (string, error) {
		return substitute(tpl, func(name string) (string, bool) {
			v, ok := lookup(name)
			if ok {
				r.rememberSubstituted(v)
			}
			return v, ok
		})
	}
	o.Interpolate = &in
}
