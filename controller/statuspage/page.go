// Package statuspage renders the read-only status page that berth run
// serves at GET / on its listen address: each stack's state, live commit,
// last deploys and services, the open alerts and the last fetch.
//
// It shows only what `berth status` and `berth history` print to anyone
// allowed to run them, minus every error text but a stack's redacted
// first line: no environment value, log line, probe body or secret ever
// reaches it, because the Status and the history it reads hold none.
package statuspage

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
)

//go:embed page.html static
var files embed.FS

var pageTemplate = template.Must(template.New("page.html").ParseFS(files, "page.html"))

// Deploys is how many of a stack's last deploys the page lists.
const Deploys = 5

// Options are where the page reads from.
type Options struct {
	// Status is the controller's view now.
	Status func() controller.Status
	// History is a stack's deploys, newest first, at most limit.
	History func(stack string, limit int) ([]store.Deploy, error)
	Logger  *slog.Logger
	// Now is the clock for the "ago" texts (default time.Now).
	Now func() time.Time
}

// Handler serves the page at GET / and its stylesheet at GET /static/.
func Handler(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if err := Render(&buf, Build(o.Status(), o.History, o.Now(), o.Logger)); err != nil {
			o.Logger.Error("status page", "error", err)
			http.Error(w, "the status page failed to render", http.StatusInternalServerError)
			return
		}
		secure(w.Header())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(buf.Bytes())
	})
	static, _ := fs.Sub(files, "static")
	assets := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w.Header())
		assets.ServeHTTP(w, r)
	}))
	return mux
}

// secure sets the headers that keep the page inert: no script, no frame
// around it, nothing cached or sent on as a referrer.
func secure(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// Page is what the template shows.
type Page struct {
	Host, Env string
	Generated string // the time, UTC
	Running   bool
	Source    *Source
	Alerts    []Alert
	Pressure  []Reading
	Stacks    []Stack
}

// Source is the Git side: the ref followed and the last fetch.
type Source struct {
	Ref         string
	Head        string // short hash
	LastFetch   string // the last successful fetch: "3m ago", or "never"
	Failing     bool
	Failures    int
	HeadSubject string
}

// Alert is one thing wrong now. Level is "warning" or "critical".
type Alert struct {
	Level, Text string
}

// Reading is one host pressure reading.
type Reading struct {
	What, Value, Level string
}

// Stack is one stack's card.
type Stack struct {
	Name, State, Tone string // Tone is ok, busy, warning or critical
	Since             string
	Live, Subject     string // the live commit, short, and its message's first line
	Head              string // the ref's head, short, when it is not the live commit
	Note              string
	Services          []Service
	Deploys           []Deploy
	HistoryMissing    bool
}

// Service is one service as the events watcher saw it.
type Service struct {
	Name, Health, Tone string
	Restarts, OOMKills int // Restarts in the last 24 hours
	Incidents          []string
}

// Deploy is one row of a stack's history.
type Deploy struct {
	Started, Took, Commit, Outcome, Tone, Subject string
}

// Build turns the controller's status and history into the page.
func Build(st controller.Status, history func(string, int) ([]store.Deploy, error), now time.Time, log *slog.Logger) Page {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := Page{Host: text(st.Host), Env: text(st.Env), Generated: now.UTC().Format("2006-01-02 15:04:05 UTC"), Running: st.Running}
	if src := st.Source; src != nil {
		s := &Source{Ref: text(src.Ref), LastFetch: ago(now, src.LastFetch), Failing: src.Error != "", Failures: src.Failures}
		if src.Head != nil {
			s.Head, s.HeadSubject = src.Head.Short(), firstLine(src.Head.Message)
		}
		if s.Failing {
			p.Alerts = append(p.Alerts, Alert{"warning", fmt.Sprintf("the Git source failed %d times in a row (berth status tells why)", src.Failures)})
		}
		p.Source = s
	}
	if pr := st.Pressure; pr != nil {
		for _, r := range pr.Readings {
			rd := reading(r)
			p.Pressure = append(p.Pressure, rd)
			if rd.Level == "warning" || rd.Level == "critical" {
				msg := fmt.Sprintf("host pressure: %s at %s", rd.What, rd.Value)
				if r.Error != "" {
					msg = fmt.Sprintf("host pressure: %s unreadable", rd.What)
				}
				p.Alerts = append(p.Alerts, Alert{rd.Level, msg})
			}
		}
	}
	for _, j := range st.Journeys {
		if j.Failing {
			p.Alerts = append(p.Alerts, Alert{"critical", fmt.Sprintf("%s: journey failing (%d misses in a row)", text(j.Stack), j.Misses)})
		}
	}
	for _, s := range st.Stacks {
		card := stackCard(s, now)
		if history != nil {
			h, err := history(s.Stack, Deploys)
			if err != nil {
				log.Warn("status page: history unreadable", "stack", s.Stack, "error", err)
				card.HistoryMissing = true
			}
			for _, d := range h {
				card.Deploys = append(card.Deploys, deployRow(d))
				if card.Subject == "" && d.Commit == s.Applied && d.Message != "" {
					card.Subject = firstLine(d.Message)
				}
			}
		}
		if card.Subject == "" && st.Source != nil && st.Source.Head != nil && st.Source.Head.Hash == s.Applied {
			card.Subject = firstLine(st.Source.Head.Message)
		}
		switch card.Tone {
		case "critical", "warning":
			p.Alerts = append(p.Alerts, Alert{card.Tone, card.Name + ": " + card.State})
		}
		for _, svc := range card.Services {
			for _, k := range svc.Incidents {
				p.Alerts = append(p.Alerts, Alert{"critical", fmt.Sprintf("%s/%s: %s", card.Name, svc.Name, k)})
			}
		}
		p.Stacks = append(p.Stacks, card)
	}
	return p
}

func stackCard(s controller.StackStatus, now time.Time) Stack {
	c := Stack{Name: text(s.Stack), State: text(s.State), Tone: stateTone(s), Since: ago(now, s.Since),
		Live: gitsource.Short(s.Applied)}
	if s.Head != "" && s.Head != s.Applied {
		c.Head = gitsource.Short(s.Head)
	}
	var notes []string
	switch {
	case s.Suspended:
		notes = append(notes, "suspended")
	case s.Pinned != "":
		notes = append(notes, "pinned to "+gitsource.Short(s.Pinned))
	}
	if s.Failed != "" {
		notes = append(notes, gitsource.Short(s.Failed)+" failed, not retried by itself")
	}
	if s.Error != "" {
		notes = append(notes, firstLine(s.Error)) // redacted by the stack
	}
	c.Note = strings.Join(notes, "; ")
	for _, svc := range s.Services {
		v := Service{Name: text(svc.Service), Health: text(svc.Health), Restarts: svc.RestartsDay, OOMKills: svc.OOMKills, Tone: "ok"}
		for _, k := range svc.Incidents {
			v.Incidents = append(v.Incidents, strings.ReplaceAll(string(k), "_", " "))
		}
		switch {
		case len(v.Incidents) > 0 || v.Health == "unhealthy":
			v.Tone = "critical"
		case v.Restarts > 0 || v.OOMKills > 0:
			v.Tone = "warning"
		}
		c.Services = append(c.Services, v)
	}
	return c
}

func stateTone(s controller.StackStatus) string {
	switch s.State {
	case controller.StateInSync:
		return "ok"
	case controller.StateDeploying:
		return "busy"
	case controller.StateFailed, controller.StateStalled, controller.StateRolledBack:
		return "critical"
	case controller.StateRemoved:
		return "muted"
	}
	return "warning" // retrying, drifted, suspended, and any new state
}

func deployRow(d store.Deploy) Deploy {
	r := Deploy{Started: d.Start.UTC().Format("Jan 2 15:04"), Commit: gitsource.Short(d.Commit), Outcome: text(d.Outcome), Subject: firstLine(d.Message), Tone: "ok"}
	if d.End.IsZero() {
		r.Took = "running"
	} else {
		r.Took = d.End.Sub(d.Start).Round(100 * time.Millisecond).String()
	}
	switch d.Outcome {
	case "succeeded", "drift corrected", "removed":
	case "rolled back":
		r.Tone = "warning"
	default:
		r.Tone = "critical"
	}
	return r
}

func reading(r controller.PressureReading) Reading {
	rd := Reading{What: text(strings.TrimSpace(r.Resource + " " + r.Path)), Level: text(r.Level)}
	switch {
	case r.Error != "":
		rd.Value, rd.Level = "unreadable", "warning"
	case r.Resource == controller.ResourceLoad:
		rd.Value = fmt.Sprintf("%.2f per CPU", r.Ratio)
	default:
		rd.Value = fmt.Sprintf("%.1f%%", 100*r.Ratio)
	}
	if rd.Level == "" {
		rd.Level = "ok"
	}
	return rd
}

// Render writes the page's HTML.
func Render(w io.Writer, p Page) error { return pageTemplate.Execute(w, p) }

// ago is how long before now t was: "45s", "3m", "2h", "4d"; "never"
// when t is zero.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := max(now.Sub(t), 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// firstLine is the first line of s, cut to 120 characters, controls out.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	s = text(s)
	if r := []rune(s); len(r) > 120 {
		s = string(r[:119]) + "…"
	}
	return s
}

// text drops the control characters from s: html/template escapes the
// markup, not the terminal controls or line breaks.
func text(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}
