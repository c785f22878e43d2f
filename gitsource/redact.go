package gitsource

import (
	"net/url"
	"regexp"
	"strings"
)

// userinfo matches the credentials part of a scheme://user:pass@host URL. It
// is the fallback for URLs that net/url refuses to parse and for URLs found
// inside error text.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@`)

// Redact returns u without credentials. For http(s) and other URLs the
// whole userinfo goes, because a token is often sent as the user name. For
// ssh:// URLs the user name stays (it is not secret: "git") and only a
// password goes; the user of an scp-like git@host:path stays for the same
// reason.
func Redact(u string) string {
	if !strings.Contains(u, "://") {
		return redactSCP(u)
	}
	p, err := url.Parse(u)
	if err != nil {
		return userinfo.ReplaceAllString(u, "$1")
	}
	if p.User == nil {
		return u
	}
	if p.Scheme == "ssh" || strings.HasPrefix(p.Scheme, "git+ssh") || strings.HasPrefix(p.Scheme, "ssh+git") {
		p.User = url.User(p.User.Username())
	} else {
		p.User = nil
	}
	return p.String()
}

// redactSCP drops a password from user:pass@host:path. Git itself does not
// accept a password there, but the string may still be logged.
func redactSCP(u string) string {
	at := strings.Index(u, "@")
	if at < 0 {
		return u
	}
	user := u[:at]
	if strings.ContainsAny(user, "/\\") {
		return u // a local path that happens to hold an @
	}
	if i := strings.Index(user, ":"); i >= 0 {
		return user[:i] + u[at:]
	}
	return u
}

// scrubber removes a remote's URL and secrets from text that came from
// go-git or the network before it reaches an error or a log line.
type scrubber struct {
	raw, redacted string
	secrets       []string
}

func newScrubber(raw string, a Auth) scrubber {
	s := scrubber{raw: raw, redacted: Redact(raw)}
	for _, v := range []string{a.Password, a.Token, a.SSHKeyPassword} {
		if len(v) >= 3 {
			s.secrets = append(s.secrets, v)
		}
	}
	if p, err := url.Parse(raw); err == nil && p.User != nil {
		if pw, ok := p.User.Password(); ok && len(pw) >= 3 {
			s.secrets = append(s.secrets, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
		// https://TOKEN@host: a long user name is likely a token.
		if name := p.User.Username(); len(name) >= 12 && p.Scheme != "ssh" {
			s.secrets = append(s.secrets, name)
		}
	}
	return s
}

func (s scrubber) scrub(text string) string {
	if s.raw != "" && s.raw != s.redacted {
		text = strings.ReplaceAll(text, s.raw, s.redacted)
	}
	text = userinfo.ReplaceAllStringFunc(text, func(m string) string {
		if strings.HasPrefix(m, "ssh://") {
			return "ssh://" + redactSCP(strings.TrimPrefix(m, "ssh://"))
		}
		return userinfo.ReplaceAllString(m, "$1")
	})
	for _, v := range s.secrets {
		text = strings.ReplaceAll(text, v, "***")
	}
	return text
}

// scrubbedError keeps the cause for errors.Is/As while its text is clean.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func (s scrubber) wrap(err error) error {
	if err == nil {
		return nil
	}
	return &scrubbedError{msg: s.scrub(err.Error()), err: err}
}
