package control

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestListenServerRefusesHugeHeaders: the listen server faces the network,
// so a request's headers are bounded far below net/http's 1 MB default.
func TestListenServerRefusesHugeHeaders(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan error, 10)
	tcp := &TCP{Addr: addr, Logger: slog.New(slog.DiscardHandler), Report: func(err error) { listening <- err },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })}
	done := make(chan struct{})
	go func() { defer close(done); tcp.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := <-listening; err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}

	get := func(header string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		req.Header.Set("X-Padding", header)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := get(strings.Repeat("a", 1<<10)); code != http.StatusNoContent {
		t.Fatalf("a 1 KiB header: %d, want 204", code)
	}
	if code := get(strings.Repeat("a", 64<<10)); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a 64 KiB header: %d, want 431", code)
	}
}
