package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// A commit's author and message, and every error, come from people and
// programs berth does not trust: printed raw, an escape sequence could
// retitle the terminal, clear it, or hide a line. Every printer goes
// through escapeControls: the CLI's standard output is a termWriter, and
// one-line fields (author, message, state) are oneLine.

// escapeControls writes the C0 controls (keeping \n and \t when lines is
// set), DEL, the C1 controls and bytes that are not UTF-8 as escapes:
// \u001b, \u009b, \xff. The \u form stays valid inside JSON strings.
func escapeControls(s string, lines bool) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case lines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// oneLine is a field printed on one line: a line break in it is escaped
// too, so it cannot forge a line of its own.
func oneLine(s string) string { return escapeControls(s, false) }

// termWriter escapes the controls in everything written through it but
// line breaks and tabs.
type termWriter struct{ w io.Writer }

func (t termWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(t.w, escapeControls(string(p), true)); err != nil {
		return 0, err
	}
	return len(p), nil
}
