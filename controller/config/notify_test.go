package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller/notify"
)

func TestLoadNotifySinks(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "berth.yaml"), `
repo: https://git.example.com/infra/deploy.git
notify:
  slack_url_file: secrets/everything
  window: 15m
  sinks:
    - name: ops
      slack_url_file: secrets/ops-slack
      kinds: [oom_killed, restart_loop]
      stacks: ["shop-*"]
      exclude_stacks: ["*-staging"]
      severity: warning
    - name: deploys
      webhook_url: https://hooks.example.com/deploys
      webhook_secret_file: /etc/berth/deploys-secret
      kinds: [deploy_started, deploy_succeeded, deploy_failed]
`)
	c, err := Load(filepath.Join(dir, "berth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Notify.Window.Duration != 15*time.Minute {
		t.Errorf("window = %v", c.Notify.Window)
	}
	var got []string
	for _, s := range c.Notify.AllSinks() {
		r, err := s.Route()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %s %+v", s.Key(), s.Name, s.Kind(), r))
	}
	want := []string{
		"notify slack slack {Kinds:[] Stacks:[] ExcludeStacks:[] MinSeverity:info}",
		"notify.sinks[0] ops slack {Kinds:[oom_killed restart_loop] Stacks:[shop-*] ExcludeStacks:[*-staging] MinSeverity:warning}",
		"notify.sinks[1] deploys webhook {Kinds:[deploy_started deploy_succeeded deploy_failed] Stacks:[] ExcludeStacks:[] MinSeverity:info}",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sinks =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var files []string
	for _, f := range c.Files() {
		files = append(files, f.Key+"="+strings.TrimPrefix(f.Path, dir))
	}
	wantFiles := []string{"notify.slack_url_file=/secrets/everything", "notify.sinks[0].slack_url_file=/secrets/ops-slack",
		"notify.sinks[1].webhook_secret_file=/etc/berth/deploys-secret"}
	if !reflect.DeepEqual(files, wantFiles) {
		t.Errorf("files = %q\nwant %q", files, wantFiles)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"notify:\n  sinks:\n    - name: x\n      kind: [oom_killed]\n", `line 4: unknown key "notify.sinks[].kind"`},
		{"notify:\n  window: soon\n", `line 2: "soon" is not a duration`},
	} {
		if _, err := Parse([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// Every mistake in a sink is an error naming its key; none shows a secret.
func TestValidateNotifySinks(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	writeFile(t, secret, "https://hooks.slack.com/services/"+canary+"\n")
	missing := filepath.Join(dir, "nope")
	ok := func(s NotifySink) NotifySink {
		if s.Name == "" {
			s.Name = "ops"
		}
		if s.SlackURLFile == "" && s.DiscordURLFile == "" && s.WebhookURL == "" && s.WebhookSecretFile == "" {
			s.TeamsURLFile = secret
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		sinks []NotifySink
		edit  func(*Config)
		want  string // "" = valid
	}{
		{"a full sink", []NotifySink{ok(NotifySink{Kinds: []string{"oom_killed", "restart_loop"}, Stacks: []string{"shop-*"},
			ExcludeStacks: []string{"*-staging"}, Severity: "critical"})}, nil, ""},
		{"every kind", []NotifySink{ok(NotifySink{Kinds: kindNames()})}, nil, ""},
		{"unknown kind", []NotifySink{ok(NotifySink{}), ok(NotifySink{Name: "b", Kinds: []string{"oom_killed", "oom_kill"}})}, nil,
			`notify.sinks[1].kinds[1]: "oom_kill" is not an event kind (deploy_started, deploy_succeeded,`},
		{"bad include pattern", []NotifySink{ok(NotifySink{Stacks: []string{"shop-["}})}, nil,
			`notify.sinks[0].stacks[0]: "shop-[" is not a path.Match pattern`},
		{"empty exclude pattern", []NotifySink{ok(NotifySink{ExcludeStacks: []string{"a", ""}})}, nil,
			`notify.sinks[0].exclude_stacks[1]: "" is empty`},
		{"bad severity", []NotifySink{ok(NotifySink{Severity: "error"})}, nil,
			`notify.sinks[0].severity: "error" is not a severity (info, warning, critical)`},
		{"no name", []NotifySink{{TeamsURLFile: secret}}, nil, "notify.sinks[0].name: required"},
		{"bad name", []NotifySink{ok(NotifySink{Name: "Ops Room"})}, nil,
			`notify.sinks[0].name: "Ops Room" is not a sink name (lower-case letters, digits, '_', '-')`},
		{"duplicate name", []NotifySink{ok(NotifySink{}), ok(NotifySink{})}, nil,
			`notify.sinks[1].name: "ops" is taken by notify.sinks[0]`},
		{"name of a single-sink setting", []NotifySink{ok(NotifySink{Name: "slack"})},
			func(c *Config) { c.Notify.SlackURLFile = secret }, `notify.sinks[0].name: "slack" is taken by notify`},
		{"two destinations", []NotifySink{ok(NotifySink{SlackURLFile: secret, DiscordURLFile: secret})}, nil,
			"notify.sinks[0]: slack_url_file, discord_url_file are all set; a sink has one destination"},
		{"no destination", []NotifySink{{Name: "ops", Kinds: []string{"oom_killed"}}}, nil,
			"notify.sinks[0]: no destination; set one of slack_url_file, discord_url_file, teams_url_file, webhook_url"},
		{"unsigned webhook", []NotifySink{ok(NotifySink{WebhookURL: "https://h.example.com/x"})}, nil,
			"notify.sinks[0].webhook_url is set but notify.sinks[0].webhook_secret_file is not: its bodies are signed"},
		{"signed webhook", []NotifySink{ok(NotifySink{WebhookURL: "https://h.example.com/x", WebhookSecretFile: secret})}, nil, ""},
		{"secret without webhook", []NotifySink{ok(NotifySink{WebhookSecretFile: secret})}, nil,
			"notify.sinks[0].webhook_secret_file is set but notify.sinks[0].webhook_url is not"},
		{"webhook with credentials", []NotifySink{ok(NotifySink{WebhookURL: "https://u:" + canary + "@h.example.com/x", WebhookSecretFile: secret})}, nil,
			`notify.sinks[0].webhook_url: "https://h.example.com/x" holds credentials`},
		{"missing URL file", []NotifySink{ok(NotifySink{DiscordURLFile: missing})}, nil,
			"notify.sinks[0].discord_url_file: open " + missing},
		{"window zero", nil, func(c *Config) { c.Notify.Window = Duration{} }, `notify.window: "0s" is not a positive duration`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Repo = "https://git.example.com/infra.git"
			c.Notify.Sinks = tc.sinks
			if tc.edit != nil {
				tc.edit(&c)
			}
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error = %v\nwant %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), canary):
				t.Fatalf("the error shows a secret: %v", err)
			}
		})
	}
}

func kindNames() []string {
	var out []string
	for _, k := range notify.Kinds() {
		out = append(out, string(k))
	}
	return out
}

// The sinks' secrets are read in AllSinks' order and print as quietly as
// the rest.
func TestReadNotifySinkSecrets(t *testing.T) {
	dir := t.TempDir()
	c := Default()
	c.Notify.SlackURLFile = filepath.Join(dir, "slack")
	c.Notify.Sinks = []NotifySink{
		{Name: "ops", DiscordURLFile: filepath.Join(dir, "discord")},
		{Name: "hook", WebhookURL: "https://h.example.com/x", WebhookSecretFile: filepath.Join(dir, "hook")},
	}
	for _, f := range []string{"slack", "discord", "hook"} {
		writeFile(t, filepath.Join(dir, f), canary+"-"+f+"\n")
	}
	s, err := c.ReadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	want := []SinkSecret{{URL: canary + "-slack"}, {URL: canary + "-discord"}, {WebhookSecret: canary + "-hook"}}
	if !reflect.DeepEqual(s.Sinks, want) {
		t.Fatalf("sinks = %d secrets, want %d", len(s.Sinks), len(want))
	}
	if out := fmt.Sprintf("%v %#v %v", s, s, s.Sinks); strings.Contains(out, canary) || !strings.Contains(out, "sinks[2]:{url:(unset) webhook_secret:(set)}") {
		t.Errorf("printed: %s", out)
	}
	writeFile(t, filepath.Join(dir, "discord"), "https://a\nhttps://b\n")
	if _, err := c.ReadSecrets(); err == nil || !strings.Contains(err.Error(), "notify.sinks[0].discord_url_file: ") || strings.Contains(err.Error(), "https://a") {
		t.Fatalf("two-line URL file: %v", err)
	}
}
