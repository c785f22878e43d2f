package lint

import (
	"strings"
)

// envEntry is one KEY=VALUE of an env file, as written.
type envEntry struct {
	key   string
	value string
	line  int
	// literal is true when the value is used as written: single-quoted, or
	// without a reference to a variable.
	literal bool
}

// parseEnv reads an env file the way compose's dotenv reads it, closely
// enough to find each key's line and raw value: comments, blank lines,
// `export `, `KEY=VALUE` and `KEY: VALUE`, single and double quotes (which
// may span lines). Lines it cannot read are skipped; the loader has already
// accepted the file.
func parseEnv(data string) []envEntry {
	lines := strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n")
	var out []envEntry
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		sep := strings.IndexAny(line, "=:")
		if sep <= 0 {
			continue
		}
		e := envEntry{key: strings.TrimSpace(line[:sep]), line: i + 1}
		raw := strings.TrimSpace(line[sep+1:])
		if raw != "" && (raw[0] == '"' || raw[0] == '\'') {
			q := raw[0]
			body := raw[1:]
			for !strings.Contains(body, string(q)) && i+1 < len(lines) {
				i++
				body += "\n" + lines[i]
			}
			if j := strings.IndexByte(body, q); j >= 0 {
				body = body[:j]
			}
			e.value = body
			e.literal = q == '\'' || !hasInterpolation(body)
		} else {
			if j := strings.Index(raw, " #"); j >= 0 {
				raw = strings.TrimSpace(raw[:j])
			}
			e.value = raw
			e.literal = !hasInterpolation(raw)
		}
		out = append(out, e)
	}
	return out
}
