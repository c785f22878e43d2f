package controller

import (
	"context"
	"log/slog"

	"github.com/berth-gitops/berth/compose"
)

// Everything berth writes about a stack (its status, its history, the
// notifications and commit statuses, the log) passes the stack's Redactor,
// which knows every value the stack's loads read: an engine or a gate may
// quote an environment variable, a template a secret. The stack applies
// it where those texts leave (update, record, notify and its logger), so
// a new code path cannot forget it.

// public is an error's text as berth may show it: no value, and the data
// dir's paths as the repo's.
func (s *stack) public(err error) string {
	if err == nil {
		return ""
	}
	return s.red.String(s.relative(err.Error()))
}

// redactLogger wraps a logger so that each message and attribute passes r.
func redactLogger(l *slog.Logger, r *compose.Redactor) *slog.Logger {
	return slog.New(&redactHandler{h: l.Handler(), r: r})
}

// redactHandler is a slog.Handler that redacts before it hands a record on.
type redactHandler struct {
	h slog.Handler
	r *compose.Redactor
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = h.attr(a)
	}
	return &redactHandler{h: h.h.WithAttrs(red), r: h.r}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{h: h.h.WithGroup(name), r: h.r}
}

// attr redacts an attribute's value as the handler would print it: an
// error, a Stringer or any other value that holds a value becomes its
// redacted text; anything else is left as it is.
func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.String(v.String()))
	case slog.KindAny:
		text := v.String()
		if e, ok := v.Any().(error); ok {
			text = e.Error()
		}
		if red := h.r.String(text); red != text {
			return slog.String(a.Key, red)
		}
		return slog.Attr{Key: a.Key, Value: v}
	case slog.KindGroup:
		as := v.Group()
		red := make([]any, len(as))
		for i, g := range as {
			red[i] = h.attr(g)
		}
		return slog.Group(a.Key, red...)
	}
	return slog.Attr{Key: a.Key, Value: v}
}
