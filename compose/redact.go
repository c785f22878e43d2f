package compose

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-gitops/berth/compose/budget"
)

// Redacted stands in for a value in any text berth shows.
const Redacted = "********"

// minRedacted is the shortest value a Redactor replaces. Shorter ones
// ("1", "yes", "on") are ordinary words and numbers: blanking them would
// garble every message, and a secret that short is guessed anyway.
const minRedacted = 4

// Redactor knows the values of a stack's loads (host secrets read, sops
// plaintexts, what env_file and env templates put in the environment, the
// process environment used in interpolation) and replaces them in any
// text. It is the one point every text about a stack passes before it
// leaves berth. The zero value is ready; it is safe for concurrent use.
type Redactor struct {
	mu     sync.RWMutex
	seen   map[string]bool
	values []string // longest first, so a value is replaced before its parts
}

// NewRedactor returns a Redactor that knows values.
func NewRedactor(values ...string) *Redactor {
	r := &Redactor{}
	r.Add(values...)
	return r
}

// Add teaches the Redactor values: each whole, each of its lines, its
// lines joined by a literal \n, and each as Go's %q and JSON escape it
// (a value with a quote, a backslash, a tab or a non-ASCII letter), as a
// quoted or escaped message shows it.
func (r *Redactor) Add(values ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	added := false
	for _, v := range values {
		forms := append([]string{v, strings.ReplaceAll(v, "\n", `\n`)}, strings.Split(v, "\n")...)
		forms = append(forms, escapedForms(v)...)
		for _, s := range forms {
			if s = strings.TrimSpace(s); len(s) >= minRedacted && !r.seen[s] {
				r.seen[s], added = true, true
				r.values = append(r.values, s)
			}
		}
	}
	if added {
		slices.SortStableFunc(r.values, func(a, b string) int { return len(b) - len(a) })
	}
}

// escapedForms are v as %q, %+q and JSON write it, without the quotes.
func escapedForms(v string) []string {
	out := []string{unquote(strconv.Quote(v)), unquote(strconv.QuoteToASCII(v))}
	if b, err := json.Marshal(v); err == nil {
		out = append(out, unquote(string(b)))
	}
	return out
}

func unquote(q string) string { return q[1 : len(q)-1] }

// Merge teaches r every value o knows.
func (r *Redactor) Merge(o *Redactor) {
	if r == nil || o == nil || r == o {
		return
	}
	o.mu.RLock()
	values := slices.Clone(o.values)
	o.mu.RUnlock()
	r.Add(values...)
}

// String replaces every known value in s.
func (r *Redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, v := range r.values {
		s = strings.ReplaceAll(s, v, Redacted)
	}
	return s
}

// snapshot is the values known now, longest first.
func (r *Redactor) snapshot() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.values)
}

// Strings replaces every known value in each of ss, in place.
func (r *Redactor) Strings(ss []string) []string {
	for i, s := range ss {
		ss[i] = r.String(s)
	}
	return ss
}

// envFileKeysOf lists, by service, the variables its env files set.
func envFileKeysOf(p *types.Project) map[string][]string {
	out := map[string][]string{}
	for name, s := range p.Services {
		for _, ef := range s.EnvFiles {
			out[name] = append(out[name], envFileKeys(ef.Path)...)
		}
	}
	return out
}

// learnEnv teaches r the values env files put in the services'
// environment: keys are envFileKeysOf, taken before they were merged.
func (r *Redactor) learnEnv(p *types.Project, keys map[string][]string) {
	for name, ks := range keys {
		env := p.Services[name].Environment
		for _, k := range ks {
			if v := env[k]; v != nil {
				r.Add(*v)
			}
		}
	}
}

// learnInterpolation teaches r, when the process environment takes part in
// interpolation, the values of the variables the compose files name.
func (r *Redactor) learnInterpolation(files []string, osEnv bool) {
	if !osEnv {
		return
	}
	for _, f := range files {
		data, err := budget.ReadFile(f, f, MaxStackFileSize)
		if err != nil {
			continue
		}
		for _, m := range interpolated.FindAllStringSubmatch(string(data), -1) {
			if v, ok := os.LookupEnv(m[1]); ok {
				r.Add(v)
			}
		}
	}
}

// interpolated finds the variables a compose file interpolates: $NAME,
// ${NAME}, ${NAME:-default}, ...
var interpolated = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// envFileKeys lists the variables an env file sets; none when it does not
// parse (the load reports that).
func envFileKeys(path string) []string {
	data, err := budget.ReadFile(path, path, MaxStackFileSize)
	if err != nil {
		return nil
	}
	m, err := dotenv.ParseWithLookup(bytes.NewReader(data), func(string) (string, bool) { return "", true })
	if err != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
