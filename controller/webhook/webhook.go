// Package webhook receives the push webhooks of Git hosts (GitHub, Gitea and
// Forgejo, GitLab, Bitbucket, and a generic signed POST) and turns each
// authentic push to the followed ref into a call of the controller's
// trigger.
//
// A webhook means "fetch now", never "deploy this payload": the body is read
// only for its ref, so a forged or replayed payload can at worst cause one
// more fetch of what the repository already holds. Each request is checked
// with its host's own scheme (HMAC-SHA256 compared in constant time, or
// GitLab's token), delivery IDs are remembered so a redelivery triggers
// nothing, and the answer is written before the trigger runs.
package webhook

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBody is the largest request body read; larger ones get 413.
const MaxBody = 1 << 20

// Defaults of the delivery ID memory.
const (
	DefaultDedupeSize   = 1024
	DefaultDedupeWindow = 24 * time.Hour
)

// Config turns providers on (a provider whose secret is empty answers 404)
// and says which pushes count.
type Config struct {
	GitHubSecret    []byte // /hooks/github: X-Hub-Signature-256
	GiteaSecret     []byte // /hooks/gitea: X-Gitea-Signature, X-Forgejo-Signature or X-Hub-Signature-256
	GitLabToken     []byte // /hooks/gitlab: X-Gitlab-Token
	BitbucketSecret []byte // /hooks/bitbucket: X-Hub-Signature: sha256=…
	GenericSecret   []byte // /hooks/generic: X-Signature: sha256=…

	// Branch is the followed branch: only pushes to refs/heads/<Branch>
	// trigger. When berth follows a tag instead, Tag makes pushes of
	// refs/tags/<Tag> trigger. With neither set, every push triggers.
	Branch, Tag string

	Logger *slog.Logger
	// Now is the clock of the delivery ID memory; time.Now when nil.
	Now func() time.Time
	// DedupeSize and DedupeWindow bound the delivery ID memory: the last
	// DedupeSize IDs, each for DedupeWindow (defaults 1024 and 24 h).
	DedupeSize   int
	DedupeWindow time.Duration
}

// Enabled says whether any provider is on, that is whether the handler
// should be mounted at all.
func (c Config) Enabled() bool {
	return len(c.GitHubSecret)+len(c.GiteaSecret)+len(c.GitLabToken)+len(c.BitbucketSecret)+len(c.GenericSecret) > 0
}

// New returns the handler of /hooks/{github,gitea,gitlab,bitbucket,generic};
// mount it at "/hooks/". trigger is called with a short reason after the
// 202 has been written, on the request's goroutine, once per accepted
// delivery: it must not block (the controller's Trigger is a non-blocking
// send that coalesces a burst into one fetch).
func New(cfg Config, trigger func(reason string)) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DedupeSize <= 0 {
		cfg.DedupeSize = DefaultDedupeSize
	}
	if cfg.DedupeWindow <= 0 {
		cfg.DedupeWindow = DefaultDedupeWindow
	}
	h := &handler{cfg: cfg, trigger: trigger, providers: map[string]*provider{},
		seen: newSeen(cfg.DedupeSize, cfg.DedupeWindow, cfg.Now)}
	for _, p := range providers(cfg) {
		if len(p.secret) > 0 {
			h.providers[p.name] = p
		}
	}
	return h
}

type handler struct {
	cfg       Config
	trigger   func(string)
	providers map[string]*provider
	seen      *seen
}

// result is what one delivery came to.
type result struct {
	status  int
	outcome string // for the log line and the response body
	reason  string // for trigger, when status is 202
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, _ := strings.CutPrefix(r.URL.Path, "/hooks/")
	p := h.providers[name]
	if p == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	event, id := printable(p.event(r.Header)), printable(p.delivery(r.Header))
	res := h.handle(p, w, r, event, id)
	level := slog.LevelInfo
	if res.status >= 400 {
		level = slog.LevelWarn
	}
	h.cfg.Logger.Log(r.Context(), level, "webhook", "provider", p.name, "event", event, "delivery", id,
		"outcome", res.outcome, "status", res.status)
	respond(w, res.status, res.outcome)
	if res.status == http.StatusAccepted {
		h.trigger(res.reason)
	}
}

// handle checks one delivery; it has no side effect but remembering the
// delivery ID of an authentic request.
func (h *handler) handle(p *provider, w http.ResponseWriter, r *http.Request, event, id string) result {
	if r.ContentLength > MaxBody {
		return result{status: http.StatusRequestEntityTooLarge, outcome: "rejected: body over 1 MiB"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return result{status: http.StatusRequestEntityTooLarge, outcome: "rejected: body over 1 MiB"}
		}
		return result{status: http.StatusBadRequest, outcome: "rejected: reading the body failed"}
	}
	if err := p.verify(r.Header, body); err != nil {
		return result{status: http.StatusUnauthorized, outcome: "rejected: " + err.Error()}
	}
	if id != "" && !h.seen.add(p.name+"\x00"+id) {
		return result{status: http.StatusOK, outcome: "ignored: duplicate delivery"}
	}
	if p.isPing(event) {
		return result{status: http.StatusOK, outcome: "ping"}
	}
	refs, push, err := p.refs(event, r.Header.Get("Content-Type"), body)
	switch {
	case err != nil:
		return result{status: http.StatusBadRequest, outcome: "rejected: " + err.Error()}
	case !push:
		return result{status: http.StatusOK, outcome: fmt.Sprintf("ignored: event %q is not a push", event)}
	}
	ref, ok := h.followed(refs)
	if !ok {
		return result{status: http.StatusOK, outcome: fmt.Sprintf("ignored: push to %s, not the followed ref", printable(strings.Join(refs, ", ")))}
	}
	reason := p.name + " webhook"
	if ref != "" {
		reason += ": push to " + ref
	}
	if id != "" {
		reason += " (delivery " + id + ")"
	}
	return result{status: http.StatusAccepted, outcome: "accepted", reason: reason}
}

// followed returns the first of refs that berth follows. A payload that
// names no ref (a generic hook) counts as a push to it.
func (h *handler) followed(refs []string) (string, bool) {
	var full, short string
	switch {
	case h.cfg.Branch != "":
		full, short = "refs/heads/"+h.cfg.Branch, h.cfg.Branch
	case h.cfg.Tag != "":
		full, short = "refs/tags/"+h.cfg.Tag, h.cfg.Tag
	}
	if len(refs) == 0 {
		return full, true
	}
	for _, ref := range refs {
		if full == "" || ref == full || ref == short {
			return ref, true
		}
	}
	return "", false
}

// respond writes a complete answer (with its length, so the client has all
// of it once flushed) and flushes it, so that the sender is answered before
// the trigger runs.
func respond(w http.ResponseWriter, status int, msg string) {
	body := msg + "\n"
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
	_ = http.NewResponseController(w).Flush()
}

// printable keeps what a sender controls short and free of control
// characters before it reaches a log line.
func printable(s string) string {
	const max = 100
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
