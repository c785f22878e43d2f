package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestServe(t *testing.T) {
	url, stop, _ := start(t, map[string]string{"VERSION": "v3"})
	expectGet(t, url+"/version", 200, "v3\n")
	expectGet(t, url+"/healthz", 200, "ok\n")
	if code := runCmd(t, "health", url+"/healthz"); code != 0 {
		t.Errorf("health: exit %d, want 0", code)
	}
	if code := runCmd(t, "get", url+"/nowhere"); code != 0 {
		t.Errorf("get /nowhere: exit %d, want 0", code)
	}
	if code := stop(); code != 0 {
		t.Errorf("after the signal: exit %d, want 0", code)
	}
}

func TestUnhealthy(t *testing.T) {
	url, _, _ := start(t, map[string]string{"HEALTHY": "false"})
	expectGet(t, url+"/healthz", 503, "unhealthy\n")
	if code := runCmd(t, "health", url+"/healthz"); code != 1 {
		t.Errorf("health: exit %d, want 1", code)
	}
	if code := runCmd(t, "get", url+"/healthz"); code != 1 {
		t.Errorf("get a 503: exit %d, want 1", code)
	}

	url, _, out := start(t, map[string]string{"UNHEALTHY_AFTER": "200ms"})
	expectGet(t, url+"/healthz", 200, "ok\n")
	waitFor(t, func() bool { return strings.Contains(out.String(), "now answers 503") })
	expectGet(t, url+"/healthz", 503, "unhealthy\n")
}

func TestStartDelay(t *testing.T) {
	began := time.Now()
	start(t, map[string]string{"START_DELAY": "300ms"})
	if d := time.Since(began); d < 300*time.Millisecond {
		t.Errorf("listening after %s, want at least 300ms", d)
	}
}

func TestStartupEffects(t *testing.T) {
	file := filepath.Join(t.TempDir(), "versions")
	env := map[string]string{"PORT": "0", "WRITE_FILE": file, "STDOUT_LINES": "3", "EXIT_AFTER": "50ms", "EXIT_CODE": "3"}
	for _, v := range []string{"v1", "v2"} {
		env["VERSION"] = v
		var out syncBuffer
		if code := run(t.Context(), nil, getenv(env), &out, io.Discard); code != 3 {
			t.Errorf("EXIT_AFTER with EXIT_CODE=3: exit %d", code)
		}
		if n := strings.Count(out.String(), "log line"); n != 3 {
			t.Errorf("STDOUT_LINES=3 printed %d lines:\n%s", n, out.String())
		}
	}
	if data, _ := os.ReadFile(file); string(data) != "v1\nv2\n" {
		t.Errorf("WRITE_FILE holds %q, want %q", data, "v1\nv2\n")
	}
	if code := run(t.Context(), nil, getenv(map[string]string{"CRASH": "true"}), io.Discard, io.Discard); code != 1 {
		t.Errorf("CRASH=true: exit %d, want 1", code)
	}
	if code := run(t.Context(), nil, getenv(map[string]string{"EXIT_AFTER": "soon"}), io.Discard, io.Discard); code != 2 {
		t.Errorf("EXIT_AFTER=soon: exit %d, want 2", code)
	}
}

func TestTools(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"exit", "7"}, 7},
		{[]string{"sleep", "0.01"}, 0},
		{[]string{"sleep", "10ms"}, 0},
		{[]string{"cat", file}, 0},
		{[]string{"cat", file + ".missing"}, 1},
		{[]string{"get", "http://127.0.0.1:1/"}, 1},
		{[]string{"health", "http://127.0.0.1:1/healthz"}, 1},
		{[]string{"frobnicate"}, 2},
		{[]string{"exit"}, 2},
	} {
		if code := run(t.Context(), tc.args, getenv(nil), &out, io.Discard); code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.args, code, tc.code)
		}
	}
	if out.String() != "data\n" {
		t.Errorf("cat printed %q", out.String())
	}
}

func TestLoad(t *testing.T) {
	url, _, _ := start(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var out syncBuffer
	if code := run(ctx, []string{"load", url + "/", "50ms"}, getenv(nil), &out, io.Discard); code != 0 {
		t.Errorf("load: exit %d, want 0", code)
	}
	if !regexp.MustCompile(`\ndone ok=[1-9][0-9]* failed=0\n$`).MatchString(out.String()) {
		t.Errorf("load output:\n%s", out.String())
	}
}

// start runs the server with env (PORT=0 unless set) until the test ends and
// returns its base URL, a stop function that cancels it like SIGTERM and
// returns the exit code, and its stdout.
func start(t *testing.T, env map[string]string) (string, func() int, *syncBuffer) {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if env["PORT"] == "" {
		env["PORT"] = "0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, getenv(env), out, io.Discard) }()
	stop := sync.OnceValue(func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(20 * time.Second):
			return -1 // reported by the caller as a wrong exit code
		}
	})
	t.Cleanup(func() { stop() })

	listening := regexp.MustCompile(`listening on \[::\]:(\d+)`)
	var m []string
	waitFor(t, func() bool { m = listening.FindStringSubmatch(out.String()); return m != nil })
	return "http://127.0.0.1:" + m[1], stop, out
}

func expectGet(t *testing.T, url string, status int, body string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || string(got) != body {
		t.Errorf("GET %s = %d %q, want %d %q", url, resp.StatusCode, got, status, body)
	}
}

func runCmd(t *testing.T, args ...string) int {
	return run(t.Context(), args, getenv(nil), io.Discard, io.Discard)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSwap(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.conf")
	if err := os.WriteFile(file, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	var out syncBuffer
	if code := run(ctx, []string{"swap", file, "/host/secret", "1ms"}, getenv(nil), &out, io.Discard); code != 0 {
		t.Fatalf("swap: exit %d", code)
	}
	if target, err := os.Readlink(file); err != nil || target != "/host/secret" {
		t.Fatalf("after swap: %q, %v", target, err)
	}
	if !strings.HasPrefix(out.String(), "content: v1\nswapping\n") {
		t.Fatalf("swap printed %q", out.String())
	}
	if code := run(t.Context(), []string{"swap", file, "x", "0"}, getenv(nil), io.Discard, io.Discard); code != 2 {
		t.Fatalf("swap with interval 0: exit %d", code)
	}
}

func TestAllocate(t *testing.T) {
	b := allocate(3)
	if len(b) != 3 || len(b[2]) != 1<<20 || b[2][4096] != 1 {
		t.Errorf("allocate(3) = %d chunks", len(b))
	}
}
