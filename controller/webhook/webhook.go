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
	"os"
	"strconv"
	"strings"
	"time"
)

// MaxBody is the largest request body read; larger ones get 413.
const MaxBody = 1 << 20

// Defaults of the delivery ID memory and of the bounds on the requests in
// progress.
const (
	DefaultDedupeSize    = 1024
	DefaultDedupeWindow  = 24 * time.Hour
	DefaultMaxConcurrent = 8
	DefaultBodyTimeout   = 10 * time.Second
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

	// MaxConcurrent bounds the deliveries whose bodies are being read and
	// checked at once (default 8); past it a delivery gets 503 with
	// Retry-After. Only requests whose signature header is well formed
	// take a place: the others are refused before their body is read.
	MaxConcurrent int
	// BodyTimeout bounds the reading of one body (default 10 s): a sender
	// trickling its body keeps a place that long at most.
	BodyTimeout time.Duration

	// Observe, when set, is told of each delivery to an enabled provider:
	// the provider, the result's class (accepted, ping, ignored, rejected
	// or refused) and how long checking and answering it took.
	Observe func(provider, result string, took time.Duration)
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
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	h := &handler{cfg: cfg, trigger: trigger, providers: map[string]*provider{},
		seen: newSeen(cfg.DedupeSize, cfg.DedupeWindow, cfg.Now), slots: make(chan struct{}, cfg.MaxConcurrent),
		refusals: &logBudget{now: cfg.Now}}
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
	slots     chan struct{} // one per delivery whose body is being read
	refusals  *logBudget
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
	start := time.Now()
	event, id := printable(p.event(r.Header)), printable(p.delivery(r.Header))
	res := h.handle(p, w, r, event, id)
	h.log(r, p, event, id, res)
	respond(w, res.status, res.outcome)
	if h.cfg.Observe != nil {
		h.cfg.Observe(p.name, res.class(), time.Since(start))
	}
	if res.status == http.StatusAccepted {
		h.trigger(res.reason)
	}
}

// log writes a delivery's line; refusals only within the log budget.
func (h *handler) log(r *http.Request, p *provider, event, id string, res result) {
	level, attrs := slog.LevelInfo, []any{"provider", p.name, "event", event, "delivery", id,
		"outcome", res.outcome, "status", res.status}
	if res.status >= 400 {
		ok, dropped := h.refusals.take()
		if !ok {
			return
		}
		if dropped > 0 {
			attrs = append(attrs, "refusals_not_logged", dropped)
		}
		level = slog.LevelWarn
	}
	h.cfg.Logger.Log(r.Context(), level, "webhook", attrs...)
}

// class is the result's first word, a short fixed set: accepted, ping,
// ignored, rejected, refused. What follows it may hold text the sender
// chose, which must not become a label.
func (r result) class() string {
	c, _, _ := strings.Cut(r.outcome, ":")
	return c
}

// handle checks one delivery; it has no side effect but remembering the
// delivery ID of an authentic request. What the headers alone can refuse
// is refused before the body is read, and the body is read only within a
// place among MaxConcurrent and within BodyTimeout, so that a flood of
// forged requests costs little memory and cannot starve authentic ones of
// places for long.
func (h *handler) handle(p *provider, w http.ResponseWriter, r *http.Request, event, id string) result {
	sig, err := p.signature(r.Header)
	if err != nil {
		return result{status: http.StatusUnauthorized, outcome: "rejected: " + err.Error()}
	}
	if r.ContentLength > MaxBody {
		return result{status: http.StatusRequestEntityTooLarge, outcome: "rejected: body over 1 MiB"}
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		return result{status: http.StatusServiceUnavailable, outcome: "refused: too many deliveries in progress"}
	}
	body, res := h.readBody(w, r)
	if res.status != 0 {
		return res
	}
	if err := p.verify(r.Header, sig, body); err != nil {
		return result{status: http.StatusUnauthorized, outcome: "rejected: " + err.Error()}
	}
	if id != "" && !h.seen.add(p.name+"\x00"+id) {
		return result{status: http.StatusOK, outcome: "ignored: duplicate delivery"}
	}
	if p.isPing(event) {
		return result{status: http.StatusOK, outcome: "ping"}
	}
	return h.push(p, r, event, id, body)
}

// readBody reads at most MaxBody within BodyTimeout; a zero status means
// it did.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, result) {
	rc := http.NewResponseController(w)
	// Not every ResponseWriter has a connection to set a deadline on (a
	// test's recorder has none); the server's ReadTimeout still holds.
	_ = rc.SetReadDeadline(time.Now().Add(h.cfg.BodyTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	_ = rc.SetReadDeadline(time.Time{})
	if err == nil {
		return body, result{}
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, result{status: http.StatusRequestEntityTooLarge, outcome: "rejected: body over 1 MiB"}
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, result{status: http.StatusRequestTimeout, outcome: "rejected: the body took over " + h.cfg.BodyTimeout.String()}
	}
	return nil, result{status: http.StatusBadRequest, outcome: "rejected: reading the body failed"}
}

// push reads the refs of an authentic push and says whether it triggers.
func (h *handler) push(p *provider, r *http.Request, event, id string, body []byte) result {
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
// the trigger runs. A refusal closes the connection: the body may be
// unread, and the sender must not go on streaming it.
func respond(w http.ResponseWriter, status int, msg string) {
	body := msg + "\n"
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if status >= 400 {
		w.Header().Set("Connection", "close")
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
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
