package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// health is the healthcheck for compose: test: ["CMD", "/app", "health"].
// It prints the outcome so that `docker inspect` shows it in the health log.
func health(ctx context.Context, url string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	status, _, err := fetch(ctx, http.DefaultClient, url)
	switch {
	case err != nil:
		fmt.Fprintln(stderr, "unhealthy:", err)
		return 1
	case status != http.StatusOK:
		fmt.Fprintf(stderr, "unhealthy: GET %s: %d %s\n", url, status, http.StatusText(status))
		return 1
	}
	fmt.Fprintln(stdout, "healthy")
	return 0
}

func get(ctx context.Context, url string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	status, body, err := fetch(ctx, http.DefaultClient, url)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	_, _ = stdout.Write(body)
	if status < 200 || status > 299 {
		fmt.Fprintf(stderr, "GET %s: %d %s\n", url, status, http.StatusText(status))
		return 1
	}
	return 0
}

// fetch GETs url and returns the status and the body.
func fetch(ctx context.Context, c *http.Client, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, body, fmt.Errorf("GET %s: read body: %w", url, err)
	}
	return resp.StatusCode, body, nil
}

func sleep(ctx context.Context, arg string, stderr io.Writer) int {
	d, err := parseDuration(arg)
	if err != nil {
		fmt.Fprintln(stderr, "sleep:", err)
		return 2
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	return 0
}

// parseDuration accepts Go durations ("1m30s") and plain seconds ("90") as
// sleep(1) does.
func parseDuration(s string) (time.Duration, error) {
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(secs * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

func exit(arg string, stderr io.Writer) int {
	code, err := strconv.Atoi(arg)
	if err != nil || code < 0 || code > 255 {
		fmt.Fprintf(stderr, "exit: invalid code %q\n", arg)
		return 2
	}
	return code
}

func cat(path string, stdout, stderr io.Writer) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	_, _ = stdout.Write(data)
	return 0
}

// load is the client side of rollout tests: it requests url every interval
// until SIGTERM and prints the running counts after each request (slow: over
// 500 ms; the slowest so far), then a final "done" line. Keep-alives are off
// unless keepAlive (KEEPALIVE=true), so that every request dials anew: that
// is what a new client sees during a rollout, and it resolves the service
// name again each time. With keep-alives it is a pooled client, which holds
// a connection to one container until that one closes it.
func load(ctx context.Context, url, interval string, keepAlive bool, stdout, stderr io.Writer) int {
	every, err := parseDuration(interval)
	if err != nil || every <= 0 {
		fmt.Fprintf(stderr, "load: invalid interval %q\n", interval)
		return 2
	}
	c := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: !keepAlive},
	}
	var ok, failed, slow int
	var slowest time.Duration
	fmt.Fprintf(stdout, "load %s every %s\n", url, every)
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		start := time.Now()
		status, _, err := fetch(ctx, c, url)
		took := time.Since(start)
		slowest = max(slowest, took)
		if took > 500*time.Millisecond {
			slow++
		}
		result := strconv.Itoa(status)
		switch {
		case ctx.Err() != nil:
			fmt.Fprintf(stdout, "done ok=%d failed=%d\n", ok, failed)
			return 0
		case err != nil:
			failed++
			result = err.Error()
		case status < 200 || status > 299:
			failed++
		default:
			ok++
		}
		fmt.Fprintf(stdout, "ok=%d failed=%d slow=%d slowest=%dms last=%s\n", ok, failed, slow, slowest.Milliseconds(), result)
		select {
		case <-ticker.C:
		case <-ctx.Done():
		}
	}
}

// swap prints path's content as "content: ..." and then keeps replacing
// path with a symlink to target (made beside it and renamed over it, so
// path is never missing) every interval until SIGTERM.
func swap(ctx context.Context, path, target, interval string, stdout, stderr io.Writer) int {
	every, err := parseDuration(interval)
	if err != nil || every <= 0 {
		fmt.Fprintf(stderr, "swap: invalid interval %q\n", interval)
		return 2
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "content: %s\n", data)
	tmp := path + ".swap"
	for n := 0; ; n++ {
		_ = os.Remove(tmp)
		if err := os.Symlink(target, tmp); err == nil {
			_ = os.Rename(tmp, path)
		}
		if n == 0 {
			fmt.Fprintln(stdout, "swapping")
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(every):
		}
	}
}
