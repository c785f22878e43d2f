package gitsource_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-gitops/berth/gitsource"
)

// logBuf collects log lines; slog handlers may write from any goroutine.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger() (*slog.Logger, *logBuf) {
	b := &logBuf{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// open opens o with a fresh Dir unless one is set, and fails on error.
func open(t testing.TB, o gitsource.Options) *gitsource.Repo {
	t.Helper()
	if o.Dir == "" {
		o.Dir = filepath.Join(t.TempDir(), "clone")
	}
	r, err := gitsource.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return r
}

func fetch(t testing.TB, r *gitsource.Repo) gitsource.Commit {
	t.Helper()
	c, err := r.Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	return c
}

func head(t *testing.T, r *gitsource.Repo) string {
	t.Helper()
	c, err := r.Head()
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	return c.Hash
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q, got nil", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}
