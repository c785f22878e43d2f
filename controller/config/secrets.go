package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Secrets are the contents of the credential files. They print as
// "(set)" or "(unset)" so that a stray %v or log line cannot leak them.
type Secrets struct {
	Password string
	Token    string
	// TrustedKeys is the armored OpenPGP key ring. Not secret, but read
	// here so that every file is read at one point, with the same errors.
	TrustedKeys string

	// The webhook secrets (GitLab's is a token compared as is).
	GitHubWebhookSecret    string
	GiteaWebhookSecret     string
	GitLabWebhookToken     string
	BitbucketWebhookSecret string
	GenericWebhookSecret   string

	// Sinks are the notification sinks' secrets, in the order of
	// Notify.AllSinks.
	Sinks []SinkSecret

	CommitStatusToken string
}

// ReadSecrets reads every credential file that is set. One trailing
// newline is dropped, as editors and `echo` add it. Errors name the setting
// and the file, never what is in it. The SSH key and known_hosts files are
// left to the Git client, which reads them by path.
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
		{"webhooks.github_secret_file", c.Webhooks.GitHubSecretFile, &s.GitHubWebhookSecret, true},
		{"webhooks.gitea_secret_file", c.Webhooks.GiteaSecretFile, &s.GiteaWebhookSecret, true},
		{"webhooks.gitlab_token_file", c.Webhooks.GitLabTokenFile, &s.GitLabWebhookToken, true},
		{"webhooks.bitbucket_secret_file", c.Webhooks.BitbucketSecretFile, &s.BitbucketWebhookSecret, true},
		{"webhooks.generic_secret_file", c.Webhooks.GenericSecretFile, &s.GenericWebhookSecret, true},
		{"commit_status.token_file", c.CommitStatus.TokenFile, &s.CommitStatusToken, true},
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
	for _, n := range c.Notify.AllSinks() {
		ss, err := n.readSecrets()
		if err != nil {
			return Secrets{}, err
		}
		s.Sinks = append(s.Sinks, ss)
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

// fields names every secret with its value, for the printers below.
func (s Secrets) fields() []struct{ name, value string } {
	return []struct{ name, value string }{
		{"password", s.Password}, {"token", s.Token}, {"trusted_keys", s.TrustedKeys},
		{"github_webhook_secret", s.GitHubWebhookSecret}, {"gitea_webhook_secret", s.GiteaWebhookSecret},
		{"gitlab_webhook_token", s.GitLabWebhookToken}, {"bitbucket_webhook_secret", s.BitbucketWebhookSecret},
		{"generic_webhook_secret", s.GenericWebhookSecret},
		{"commit_status_token", s.CommitStatusToken},
	}
}

func (s Secrets) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range s.fields() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.name + ":" + isSet(f.value))
	}
	for i, ss := range s.Sinks {
		fmt.Fprintf(&b, " sinks[%d]:%s", i, ss)
	}
	b.WriteByte('}')
	return b.String()
}

// GoString keeps %#v as quiet as %v.
func (s Secrets) GoString() string { return "config.Secrets" + s.String() }

// LogValue keeps slog from printing the fields.
func (s Secrets) LogValue() slog.Value {
	var as []slog.Attr
	for _, f := range s.fields() {
		as = append(as, slog.String(f.name, isSet(f.value)))
	}
	for i, ss := range s.Sinks {
		as = append(as, slog.Any(fmt.Sprintf("sinks[%d]", i), ss))
	}
	return slog.GroupValue(as...)
}

func isSet(v string) string {
	if v == "" {
		return "(unset)"
	}
	return "(set)"
}

// MarshalJSON keeps encoding/json as quiet as %v.
func (s Secrets) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	for _, f := range s.fields() {
		m[f.name] = isSet(f.value)
	}
	m["sinks"] = s.Sinks
	return json.Marshal(m)
}

// SinkSecret is a notification sink's secrets: the chat webhook URL, which
// holds its token, or the generic webhook's signing secret. It prints as
// quietly as Secrets.
type SinkSecret struct {
	URL           string
	WebhookSecret string
}

// readSecrets reads the sink's URL file or signing secret; errors name
// the key.
func (n NotifySink) readSecrets() (SinkSecret, error) {
	var ss SinkSecret
	for _, f := range n.files() {
		v, err := readSecret(f.Path, true)
		if err != nil {
			return SinkSecret{}, fmt.Errorf("%s: %w", f.Key, err)
		}
		if strings.HasSuffix(f.Key, ".webhook_secret_file") {
			ss.WebhookSecret = v
		} else {
			ss.URL = v
		}
	}
	return ss, nil
}

func (s SinkSecret) String() string {
	return "{url:" + isSet(s.URL) + " webhook_secret:" + isSet(s.WebhookSecret) + "}"
}

// GoString keeps %#v as quiet as %v.
func (s SinkSecret) GoString() string { return "config.SinkSecret" + s.String() }

// LogValue keeps slog from printing the fields.
func (s SinkSecret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", isSet(s.URL)), slog.String("webhook_secret", isSet(s.WebhookSecret)))
}

// MarshalJSON keeps encoding/json as quiet as %v.
func (s SinkSecret) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"url": isSet(s.URL), "webhook_secret": isSet(s.WebhookSecret)})
}
