package control

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// TCP is the listener for webhooks, health and metrics. When its address
// is taken (another process bound it first) berth goes on deploying and
// keeps trying to bind, with backoff; Report tells the status.
type TCP struct {
	Addr    string
	Handler http.Handler
	Logger  *slog.Logger
	// Report is called with the bind error, and with nil once listening.
	Report func(error)
	// MaxBackoff caps the wait between binds (default 10 s).
	MaxBackoff time.Duration
}

// Run serves until ctx ends, then shuts the server down.
func (t *TCP) Run(ctx context.Context) {
	maxWait := t.MaxBackoff
	if maxWait <= 0 {
		maxWait = 10 * time.Second
	}
	wait, failures, lastErr := time.Second, 0, ""
	for {
		ln, err := net.Listen("tcp", t.Addr)
		if err == nil {
			if failures > 0 {
				t.Logger.Info("listening after all", "addr", ln.Addr().String(), "attempts", failures+1)
			} else {
				t.Logger.Info("listening", "addr", ln.Addr().String())
			}
			t.Report(nil)
			err = t.serve(ctx, ln)
			if ctx.Err() != nil {
				return
			}
			wait, failures, lastErr = time.Second, 0, ""
			if err == nil {
				err = errors.New("the server stopped")
			}
		}
		failures++
		t.Report(err)
		if err.Error() != lastErr { // once per distinct error, not per attempt
			t.Logger.Error("listen failed; deploys go on, binding again with backoff", "addr", t.Addr, "error", err)
			lastErr = err.Error()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, maxWait)
	}
}

// Bounds of the listen server's connections. The listener faces the
// network: a client that sends its headers slowly, keeps a connection
// idle, or sends huge headers holds a goroutine and memory only this long
// or this much. The webhook handler bounds body reads more tightly.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 60 * time.Second
	MaxHeaderBytes    = 32 << 10 // Git hosts send a few KiB at most
)

// newServer is the listen server with its bounds.
func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout,
		WriteTimeout: WriteTimeout, IdleTimeout: IdleTimeout, MaxHeaderBytes: MaxHeaderBytes}
}

// serve serves on ln until ctx ends (nil) or the server fails.
func (t *TCP) serve(ctx context.Context, ln net.Listener) error {
	srv := newServer(t.Handler)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	}
}
