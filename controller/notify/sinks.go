package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berth-gitops/berth/gitsource"
)

// SendError is a failed send: the sink's name (kind and host, never its
// URL), the HTTP status when there was an answer, and how long the sink
// asked to wait.
type SendError struct {
	Sink   string
	Status int // 0 when no answer came
	Wait   time.Duration
	Err    error
}

func (e *SendError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: HTTP %d %s", e.Sink, e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("%s: %v", e.Sink, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// Retryable is false for a 4xx other than 408 and 429: the request itself
// is wrong, or the hook is gone.
func (e *SendError) Retryable() bool {
	return e.Status == 0 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// RetryAfter is what the answer's Retry-After asked for.
func (e *SendError) RetryAfter() time.Duration { return e.Wait }

// httpSink posts a JSON body built from the event.
type httpSink struct {
	name   string
	url    string
	client *http.Client
	body   func(Event) ([]byte, error)
	header func(h http.Header, body []byte)
}

func (s *httpSink) Name() string { return s.name }

func (s *httpSink) Send(ctx context.Context, e Event) error {
	body, err := s.body(e)
	if err != nil {
		return &SendError{Sink: s.name, Err: err, Status: 0}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return &SendError{Sink: s.name, Err: errors.New("bad request")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "berth")
	if s.header != nil {
		s.header(req.Header, body)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return &SendError{Sink: s.name, Err: stripURL(err)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return &SendError{Sink: s.name, Status: resp.StatusCode, Wait: parseRetryAfter(resp.Header.Get("Retry-After"))}
}

// stripURL drops the request URL, which holds the sink's token, from a
// client error: `Post "https://hooks.slack.com/services/…": dial tcp: …`
// becomes `dial tcp: …`.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("timed out")
		}
		return ue.Err
	}
	return err
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// newHTTPSink checks the URL and names the sink by kind and host.
func newHTTPSink(kind, rawURL string, client *http.Client) (*httpSink, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// The URL is a secret: say what is wrong without it.
		return nil, fmt.Errorf("%s: the webhook URL is not an http(s) URL", kind)
	}
	if client == nil {
		client = &http.Client{}
	}
	return &httpSink{name: kind + " " + u.Host, url: u.String(), client: client}, nil
}

// Slack posts to a Slack incoming webhook: {"text": …} in Slack's mrkdwn,
// with a link to the status page when the event has one.
func Slack(webhookURL string, client *http.Client) (Sink, error) {
	s, err := newHTTPSink("slack", webhookURL, client)
	if err != nil {
		return nil, err
	}
	s.body = func(e Event) ([]byte, error) {
		text := "*" + slackEscape(e.Title()) + "*"
		if d := e.Detail(); d != "" {
			text += "\n" + slackEscape(d)
		}
		if e.URL != "" {
			text += "\n<" + slackEscape(e.URL) + "|status>"
		}
		return json.Marshal(map[string]string{"text": text})
	}
	return s, nil
}

// slackEscape escapes the three characters Slack's text format reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Discord posts to a Discord webhook: {"content": …} (at most 2000
// characters) with mentions turned off, so a commit message saying
// @everyone pings no one.
func Discord(webhookURL string, client *http.Client) (Sink, error) {
	s, err := newHTTPSink("discord", webhookURL, client)
	if err != nil {
		return nil, err
	}
	s.body = func(e Event) ([]byte, error) {
		content := "**" + e.Title() + "**"
		if d := e.Detail(); d != "" {
			content += "\n" + d
		}
		if e.URL != "" {
			content += "\n<" + e.URL + ">"
		}
		if r := []rune(content); len(r) > 2000 {
			content = string(r[:1999]) + "…"
		}
		return json.Marshal(map[string]any{
			"content":          content,
			"allowed_mentions": map[string]any{"parse": []string{}},
		})
	}
	return s, nil
}

// Teams posts an Adaptive Card, in the message envelope that both Teams
// incoming webhooks and Power Automate "Workflows" webhooks take.
func Teams(webhookURL string, client *http.Client) (Sink, error) {
	s, err := newHTTPSink("teams", webhookURL, client)
	if err != nil {
		return nil, err
	}
	s.body = func(e Event) ([]byte, error) { return json.Marshal(teamsMessage(e)) }
	return s, nil
}

func teamsMessage(e Event) map[string]any {
	facts := []map[string]string{{"title": "Host", "value": e.Host}, {"title": "Stack", "value": e.Stack}}
	if e.Commit != "" {
		facts = append(facts, map[string]string{"title": "Commit", "value": gitsource.Short(e.Commit)})
	}
	if e.Message != "" {
		facts = append(facts, map[string]string{"title": "Message", "value": oneLine(e.Message, 200)})
	}
	if e.Author != "" {
		facts = append(facts, map[string]string{"title": "Author", "value": e.Author})
	}
	body := []map[string]any{
		{"type": "TextBlock", "text": e.Title(), "weight": "Bolder", "size": "Medium", "wrap": true},
		{"type": "FactSet", "facts": facts},
	}
	if e.Reason != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": oneLine(e.Reason, 1000), "wrap": true})
	}
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body":    body,
	}
	if e.URL != "" {
		card["actions"] = []map[string]any{{"type": "Action.OpenUrl", "title": "Status", "url": e.URL}}
	}
	return map[string]any{
		"type": "message",
		"attachments": []map[string]any{{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	}
}

// Webhook posts the Event as JSON, signed with
// X-Berth-Signature: sha256=<hex HMAC-SHA256 of the body> when secret is
// set. X-Berth-Event is the kind and X-Berth-Delivery an ID that stays the
// same across the retries of one event, so a receiver can drop repeats.
func Webhook(webhookURL string, secret []byte, client *http.Client) (Sink, error) {
	s, err := newHTTPSink("webhook", webhookURL, client)
	if err != nil {
		return nil, err
	}
	s.body = func(e Event) ([]byte, error) { return json.Marshal(e) }
	return &webhookSink{httpSink: s, secret: secret}, nil
}

type webhookSink struct {
	*httpSink
	secret []byte
}

func (w *webhookSink) Send(ctx context.Context, e Event) error {
	id := deliveryID(e)
	s := *w.httpSink
	s.header = func(h http.Header, body []byte) {
		h.Set("X-Berth-Event", string(e.Kind))
		h.Set("X-Berth-Delivery", id)
		if len(w.secret) > 0 {
			m := hmac.New(sha256.New, w.secret)
			m.Write(body)
			h.Set("X-Berth-Signature", "sha256="+hex.EncodeToString(m.Sum(nil)))
		}
	}
	return s.Send(ctx, e)
}

// deliveryID is the same for the same event (its kind, stack, commit,
// subject and time), so retries carry one ID.
func deliveryID(e Event) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%s\x00%s\x00%d", e.Kind, e.Host, e.Stack, e.Commit, e.Subject, e.Time.UnixNano()))
	return hex.EncodeToString(h[:16])
}
