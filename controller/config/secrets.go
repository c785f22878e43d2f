package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
)

// Secrets are the contents of the credential files. They print as
// "(set)" or "(unset)" so that a stray %v or log line cannot leak them.
type Secrets struct {
	Password string
	Token    string
	// TrustedKeys is the armored OpenPGP key ring. Not secret, but read
	// here so that every file is read at one point, with the same errors.
	TrustedKeys string
}

// ReadSecrets reads the password, token and trusted keys files that are
// set. One trailing newline is dropped, as editors and `echo` add it.
// Errors name the setting and the file, never what is in it. The SSH key
// and known_hosts files are left to the Git client, which reads them by
// path.
func (c Config) ReadSecrets() (Secrets, error) {
	var s Secrets
	for _, f := range []struct {
		key, path string
		dst       *string
		oneLine   bool
	}{
		{"git.password_file", c.Git.PasswordFile, &s.Password, true},
		{"git.token_file", c.Git.TokenFile, &s.Token, true},
		{"git.trusted_keys_file", c.Git.TrustedKeysFile, &s.TrustedKeys, false},
	} {
		if f.path == "" {
			continue
		}
		v, err := readSecret(f.path, f.oneLine)
		if err != nil {
			return Secrets{}, fmt.Errorf("%s: %w", f.key, err)
		}
		*f.dst = v
	}
	return s, nil
}

func readSecret(path string, oneLine bool) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err // *PathError: names the file only
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return "", fmt.Errorf("%s is empty", path)
	}
	if oneLine && bytes.ContainsAny(b, "\r\n") {
		return "", fmt.Errorf("%s has more than one line", path)
	}
	return string(b), nil
}

func (s Secrets) String() string {
	return fmt.Sprintf("{Password:%s Token:%s TrustedKeys:%s}", isSet(s.Password), isSet(s.Token), isSet(s.TrustedKeys))
}

// GoString keeps %#v as quiet as %v.
func (s Secrets) GoString() string { return "config.Secrets" + s.String() }

// LogValue keeps slog from printing the fields.
func (s Secrets) LogValue() slog.Value {
	return slog.GroupValue(slog.String("password", isSet(s.Password)), slog.String("token", isSet(s.Token)),
		slog.String("trusted_keys", isSet(s.TrustedKeys)))
}

func isSet(v string) string {
	if v == "" {
		return "(unset)"
	}
	return "(set)"
}

// MarshalJSON keeps encoding/json as quiet as %v.
func (s Secrets) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"password":%q,"token":%q,"trusted_keys":%q}`, isSet(s.Password), isSet(s.Token), isSet(s.TrustedKeys)), nil
}
