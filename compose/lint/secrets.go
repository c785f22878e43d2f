package lint

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The secret rule reads the files as written, never the loaded project: a
// value that came from ${VAR} was not in Git, a literal was. Two tests, and
// no finding ever carries the value:
//   - by name: a key named like a secret (secretWords) with a literal,
//     non-empty value, in a service's environment or labels, in .env and
//     <env>.env, and in the env_files services name;
//   - by shape: a value that looks like a known kind of credential
//     (secretShapes), anywhere in the compose files and env files.

// secretWords mark a key as holding a secret; keys are compared upper-case
// with . and - read as _.
var secretWords = []string{"PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY"}

// notSecretSuffixes mark keys that name a secret without holding it
// (POSTGRES_PASSWORD_FILE, TOKEN_TTL).
var notSecretSuffixes = []string{"_FILE", "_PATH", "_DIR", "_URL", "_URI", "_TTL", "_LENGTH", "_TIMEOUT", "_EXPIRY"}

var secretShapes = []struct {
	what string
	re   *regexp.Regexp
}{
	{"an AWS access key", regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"a private key", regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----`)},
	{"a GitHub token", regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,})`)},
	{"a GitLab token", regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}`)},
	{"a Slack token", regexp.MustCompile(`\bxox[baprs]-[A-Za-z0-9-]{10,}`)},
}

// urlCredentials matches user:password@ in a URL; a password that is a
// variable is not a literal.
var urlCredentials = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:([^/\s@]+)@`)

var interpolation = regexp.MustCompile(`\$(\{|[A-Za-z_])`)

// hasInterpolation reports whether compose would substitute a variable in
// v ($$ is a literal $).
func hasInterpolation(v string) bool {
	return interpolation.MatchString(strings.ReplaceAll(v, "$$", ""))
}

// secretShape names the kind of credential v looks like, or "".
func secretShape(v string) string {
	for _, s := range secretShapes {
		if s.re.MatchString(v) {
			return s.what
		}
	}
	for _, m := range urlCredentials.FindAllStringSubmatch(v, -1) {
		if !hasInterpolation(m[1]) {
			return "credentials in a URL"
		}
	}
	return ""
}

// secretName reports whether a key is named like a secret.
func secretName(key string) bool {
	k := strings.NewReplacer(".", "_", "-", "_").Replace(strings.ToUpper(key))
	for _, s := range notSecretSuffixes {
		if strings.HasSuffix(k, s) {
			return false
		}
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// plainValue reports whether a literal value under a secret-looking key is
// clearly not a secret: a switch, or a path to a mounted secret.
func plainValue(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off":
		return true
	}
	return strings.HasPrefix(v, "/run/secrets/")
}

// fromHost reports whether a value is filled on the host, not written in
// Git: an env template's action ({{ secret "db_password" }}) or a value
// sops encrypted (ENC[AES256_GCM,...]).
func fromHost(v string) bool {
	return strings.HasPrefix(v, "ENC[AES256_GCM,") || strings.Contains(v, "{{") && strings.Contains(v, "}}")
}

// verdict says why a key's value is a secret in plain sight, or "".
func verdict(key, value string, literal bool) string {
	if value == "" || fromHost(value) {
		return ""
	}
	if what := secretShape(value); what != "" {
		return "holds what looks like " + what
	}
	if literal && secretName(key) && !plainValue(value) {
		return "is named like a secret and has a literal value"
	}
	return ""
}

// safeKey is key, or a neutral name when the key itself looks like a
// secret (a list item with no `=`).
func safeKey(key, fallback string) string {
	if secretShape(key) != "" {
		return fallback
	}
	return key
}

const secretAdvice = "; take it from the host (${VAR} or an env template) and rotate it if it was ever pushed"

func (c *checker) secrets() {
	c.reported = map[*yaml.Node]bool{}
	for _, f := range c.src.Files {
		for _, svc := range services(f.Root) {
			c.keyed(f, svc.name, "environment", svc.node)
			c.keyed(f, svc.name, "labels", svc.node)
		}
		if f.Root != nil {
			c.walk(f, f.Root, "", "")
		}
	}
	for _, ef := range c.src.EnvFiles {
		c.envFile(ef)
	}
}

// keyed checks a service's environment or labels: a mapping, or a list of
// KEY=VALUE.
func (c *checker) keyed(f File, service, field string, svc *yaml.Node) {
	_, v := get(svc, field)
	if v == nil {
		return
	}
	check := func(key, value string, node *yaml.Node, i int) {
		if why := verdict(key, value, !hasInterpolation(value)); why != "" {
			name := safeKey(key, field+"["+strconv.Itoa(i)+"]")
			c.reported[node] = true
			c.addAt(RuleSecretLiteral, service, field+"."+name, f.Path, node.Line, "%s %s %s%s", singular(field), name, why, secretAdvice)
		}
	}
	for i, kv := range pairs(v) {
		val := resolve(kv[1])
		if val != nil && val.Kind == yaml.ScalarNode && val.Tag != "!!null" {
			check(kv[0].Value, val.Value, val, i)
		}
	}
	for i, item := range items(v) {
		if item.Kind != yaml.ScalarNode {
			continue
		}
		if key, value, ok := strings.Cut(item.Value, "="); ok {
			check(key, value, item, i)
		}
	}
}

func singular(field string) string {
	if field == "labels" {
		return "label"
	}
	return field
}

// walk scans every scalar of a compose file for credential shapes.
func (c *checker) walk(f File, n *yaml.Node, service, at string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			c.scalar(f, k, service, at)
			name := safeKey(k.Value, "[key]")
			svc := service
			if at == "services" {
				svc = k.Value
			}
			c.walk(f, v, svc, join(at, name))
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			c.walk(f, item, service, at+"["+strconv.Itoa(i)+"]")
		}
	case yaml.ScalarNode:
		c.scalar(f, n, service, at)
	}
}

func (c *checker) scalar(f File, n *yaml.Node, service, at string) {
	if n.Kind != yaml.ScalarNode || c.reported[n] {
		return
	}
	what := secretShape(n.Value)
	if what == "" {
		return
	}
	c.reported[n] = true
	field := at
	if service != "" {
		field = strings.TrimPrefix(at, "services."+service+".")
	}
	c.addAt(RuleSecretLiteral, service, field, f.Path, n.Line, "%s holds what looks like %s%s", field, what, secretAdvice)
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

// envFile checks an env file's entries, once for each service that names
// it, or once without a service for the interpolation files.
func (c *checker) envFile(ef EnvFile) {
	users := ef.Services
	if len(users) == 0 {
		users = []string{""}
	}
	for i, e := range ef.entries {
		why := verdict(e.key, e.value, e.literal)
		if why == "" {
			continue
		}
		name := safeKey(e.key, fmt.Sprintf("entry %d", i+1))
		for _, svc := range users {
			c.addAt(RuleSecretLiteral, svc, name, ef.Path, e.line, "env file %s: %s %s%s", path.Base(ef.Path), name, why, secretAdvice)
		}
	}
}
