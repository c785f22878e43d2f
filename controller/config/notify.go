package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/berth-gitops/berth/controller/notify"
)

// Notify names the notification sinks. Slack, Discord and Teams webhook
// URLs carry their token, so they are read from files; the generic
// webhook's URL is plain and its body is signed with the secret.
//
// The single-sink settings (slack_url_file and the rest, which have flags
// and variables) are each a sink that hears everything; Sinks, in the file
// only, are named sinks that each choose what they hear.
type Notify struct {
	SlackURLFile      string `yaml:"slack_url_file"`
	DiscordURLFile    string `yaml:"discord_url_file"`
	TeamsURLFile      string `yaml:"teams_url_file"`
	WebhookURL        string `yaml:"webhook_url"`
	WebhookSecretFile string `yaml:"webhook_secret_file"`
	// Window is each sink's duplicate window.
	Window Duration     `yaml:"window"`
	Sinks  []NotifySink `yaml:"sinks"`
}

// NotifySink is one named sink: one destination and what it hears.
type NotifySink struct {
	Name              string `yaml:"name"`
	SlackURLFile      string `yaml:"slack_url_file"`
	DiscordURLFile    string `yaml:"discord_url_file"`
	TeamsURLFile      string `yaml:"teams_url_file"`
	WebhookURL        string `yaml:"webhook_url"`
	WebhookSecretFile string `yaml:"webhook_secret_file"`
	// Kinds are event kinds; empty means all.
	Kinds []string `yaml:"kinds"`
	// Stacks and ExcludeStacks are path.Match patterns of stack names.
	Stacks        []string `yaml:"stacks"`
	ExcludeStacks []string `yaml:"exclude_stacks"`
	// Severity is the least severity heard: info (the default), warning
	// or critical.
	Severity string `yaml:"severity"`

	// key is the sink's place in the settings, for errors: "notify" for a
	// single-sink setting, "notify.sinks[2]" for a listed one.
	key string
}

// The destinations of a sink.
const (
	SinkSlack   = "slack"
	SinkDiscord = "discord"
	SinkTeams   = "teams"
	SinkWebhook = "webhook"
)

// AllSinks is every sink berth sends to: the single-sink settings first,
// each named after its kind and hearing everything, then the listed ones.
// Secrets.Sinks holds their secrets in the same order.
func (n Notify) AllSinks() []NotifySink {
	var out []NotifySink
	if n.SlackURLFile != "" {
		out = append(out, NotifySink{Name: SinkSlack, SlackURLFile: n.SlackURLFile, key: "notify"})
	}
	if n.DiscordURLFile != "" {
		out = append(out, NotifySink{Name: SinkDiscord, DiscordURLFile: n.DiscordURLFile, key: "notify"})
	}
	if n.TeamsURLFile != "" {
		out = append(out, NotifySink{Name: SinkTeams, TeamsURLFile: n.TeamsURLFile, key: "notify"})
	}
	if n.WebhookURL != "" || n.WebhookSecretFile != "" {
		out = append(out, NotifySink{Name: SinkWebhook, WebhookURL: n.WebhookURL, WebhookSecretFile: n.WebhookSecretFile, key: "notify"})
	}
	for i, s := range n.Sinks {
		s.key = fmt.Sprintf("notify.sinks[%d]", i)
		out = append(out, s)
	}
	return out
}

// Key is the sink's place in the settings: "notify" or "notify.sinks[N]".
func (s NotifySink) Key() string { return s.key }

// Kind is the sink's destination: SinkSlack, SinkDiscord, SinkTeams or
// SinkWebhook; "" unless exactly one is set.
func (s NotifySink) Kind() string {
	if d := s.destinations(); len(d) == 1 {
		return strings.TrimSuffix(strings.TrimSuffix(d[0], "_url_file"), "_url")
	}
	return ""
}

// destinations are the keys of the destinations that are set.
func (s NotifySink) destinations() []string {
	var set []string
	for _, d := range []struct{ key, v string }{
		{"slack_url_file", s.SlackURLFile}, {"discord_url_file", s.DiscordURLFile},
		{"teams_url_file", s.TeamsURLFile}, {"webhook_url", s.WebhookURL},
	} {
		if d.v != "" {
			set = append(set, d.key)
		}
	}
	return set
}

// files are the sink's file settings, named by their full keys.
func (s NotifySink) files() []FileSetting {
	var out []FileSetting
	for _, f := range []FileSetting{
		{s.key + ".slack_url_file", s.SlackURLFile}, {s.key + ".discord_url_file", s.DiscordURLFile},
		{s.key + ".teams_url_file", s.TeamsURLFile}, {s.key + ".webhook_secret_file", s.WebhookSecretFile},
	} {
		if f.Path != "" {
			out = append(out, f)
		}
	}
	return out
}

// Route is what the sink hears. Errors name the key under the sink's.
func (s NotifySink) Route() (notify.Route, error) {
	r := notify.Route{Stacks: s.Stacks, ExcludeStacks: s.ExcludeStacks}
	for i, v := range s.Kinds {
		k, err := notify.ParseKind(v)
		if err != nil {
			return notify.Route{}, fmt.Errorf("%s.kinds[%d]: %w", s.key, i, err)
		}
		r.Kinds = append(r.Kinds, k)
	}
	if s.Severity != "" {
		sev, err := notify.ParseSeverity(s.Severity)
		if err != nil {
			return notify.Route{}, fmt.Errorf("%s.severity: %w", s.key, err)
		}
		r.MinSeverity = sev
	}
	if err := r.Check(); err != nil {
		return notify.Route{}, fmt.Errorf("%s.%w", s.key, err)
	}
	return r, nil
}

var sinkName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// notifyProblems checks the sinks: a unique name each, exactly one
// destination, a signed webhook, and a route whose kinds, patterns and
// severity this build knows.
func (n Notify) notifyProblems() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if n.Window.Duration <= 0 {
		add("notify.window: %q is not a positive duration", n.Window.String())
	}
	names := map[string]string{}
	for _, s := range n.AllSinks() {
		switch {
		case s.Name == "":
			add("%s.name: required", s.key)
		case !sinkName.MatchString(s.Name):
			add("%s.name: %q is not a sink name (lower-case letters, digits, '_', '-')", s.key, s.Name)
		case names[s.Name] != "":
			add("%s.name: %q is taken by %s", s.key, s.Name, names[s.Name])
		default:
			names[s.Name] = s.key
		}
		errs = append(errs, s.destinationProblems()...)
		if _, err := s.Route(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (s NotifySink) destinationProblems() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch d := s.destinations(); {
	case len(d) > 1:
		add("%s: %s are all set; a sink has one destination", s.key, strings.Join(d, ", "))
	case s.WebhookSecretFile != "" && s.WebhookURL == "":
		add("%s.webhook_secret_file is set but %s.webhook_url is not", s.key, s.key)
	case len(d) == 0:
		add("%s: no destination; set one of slack_url_file, discord_url_file, teams_url_file, webhook_url", s.key)
	}
	if s.WebhookURL != "" {
		if msg := httpURLProblem(s.WebhookURL); msg != "" {
			add("%s.webhook_url: %q %s", s.key, redact(s.WebhookURL), msg)
		}
		if s.WebhookSecretFile == "" {
			add("%s.webhook_url is set but %s.webhook_secret_file is not: its bodies are signed", s.key, s.key)
		}
	}
	return errs
}
