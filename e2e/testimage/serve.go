package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

const defaultPort = "8080"

// config is the server's behaviour, read from the environment:
//
//	PORT=8080            listen port (0 picks a free one; the "listening on" line names it)
//	VERSION=dev          served on /version and /
//	HEALTHY=false        /healthz answers 503 from the start
//	UNHEALTHY_AFTER=5s   /healthz turns 503 this long after the server starts listening
//	START_DELAY=3s       listen only after this delay
//	EXIT_AFTER=2s        exit this long after the process starts, without a graceful shutdown
//	EXIT_CODE=1          the code for EXIT_AFTER and SIGUSR1 (default 1: an app that stops by itself failed)
//	CRASH=true           exit 1 at once
//	WRITE_FILE=/path     append a line with VERSION to this file at start
//	STDOUT_LINES=N       print N log lines at start
//	ALLOC_MB=N           after STDOUT_LINES, allocate N MiB, writing every page, and hold it
//	                     (past a memory limit, the kernel's OOM killer ends the container)
//	ALLOC_AFTER=5s       allocate ALLOC_MB this long after start instead, while serving
//
// SIGUSR1 makes the server exit at once with EXIT_CODE: a crash on demand.
type config struct {
	port           string
	version        string
	healthy        bool
	unhealthyAfter time.Duration
	startDelay     time.Duration
	exitAfter      time.Duration
	exitCode       int
	crash          bool
	writeFile      string
	stdoutLines    int
	allocMB        int
	allocAfter     time.Duration
}

func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{
		port:      envOr(getenv, "PORT", defaultPort),
		version:   envOr(getenv, "VERSION", "dev"),
		writeFile: getenv("WRITE_FILE"),
	}
	var errs []error
	boolVar := func(key string, def bool) bool {
		v, err := strconv.ParseBool(envOr(getenv, key, strconv.FormatBool(def)))
		errs = append(errs, wrapEnv(key, getenv, err))
		return v
	}
	durVar := func(key string) time.Duration {
		v, err := time.ParseDuration(envOr(getenv, key, "0s"))
		errs = append(errs, wrapEnv(key, getenv, err))
		return v
	}
	intVar := func(key string, def int) int {
		v, err := strconv.Atoi(envOr(getenv, key, strconv.Itoa(def)))
		errs = append(errs, wrapEnv(key, getenv, err))
		return v
	}
	cfg.healthy = boolVar("HEALTHY", true)
	cfg.crash = boolVar("CRASH", false)
	cfg.unhealthyAfter = durVar("UNHEALTHY_AFTER")
	cfg.startDelay = durVar("START_DELAY")
	cfg.exitAfter = durVar("EXIT_AFTER")
	cfg.exitCode = intVar("EXIT_CODE", 1)
	cfg.stdoutLines = intVar("STDOUT_LINES", 0)
	cfg.allocMB = intVar("ALLOC_MB", 0)
	cfg.allocAfter = durVar("ALLOC_AFTER")
	return cfg, errors.Join(errs...)
}

func wrapEnv(key string, getenv func(string) string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("invalid %s=%q: %w", key, getenv(key), err)
}

// serve runs the app: the start-up effects, START_DELAY, then the HTTP server.
// EXIT_AFTER counts from here, so it can fire during START_DELAY too.
func serve(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	// SIGUSR1 is a crash on demand: the engine's restart policy restarts
	// it, where a kill with the stop signal or SIGKILL would end it.
	crash := make(chan os.Signal, 1)
	signal.Notify(crash, syscall.SIGUSR1)
	defer signal.Stop(crash)
	if err := startup(cfg, stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	exit := make(chan int, 1)
	if cfg.exitAfter > 0 {
		timer := time.AfterFunc(cfg.exitAfter, func() { exit <- cfg.exitCode })
		defer timer.Stop()
	}
	go func() {
		<-crash
		fmt.Fprintln(stderr, "SIGUSR1: crashing")
		select {
		case exit <- cfg.exitCode:
		default:
		}
	}()
	select {
	case <-time.After(cfg.startDelay):
	case <-ctx.Done():
		return 0
	case code := <-exit:
		fmt.Fprintf(stdout, "EXIT_AFTER=%s: exiting %d before listening\n", cfg.exitAfter, code)
		return code
	}
	return listenAndServe(ctx, cfg, exit, stdout, stderr)
}

// startup does what happens before anything else: CRASH, STDOUT_LINES,
// ALLOC_MB, WRITE_FILE.
func startup(cfg config, stdout io.Writer) error {
	if cfg.crash {
		return errors.New("CRASH=true: exiting 1")
	}
	for i := 1; i <= cfg.stdoutLines; i++ {
		fmt.Fprintf(stdout, "log line %d of %d version=%s\n", i, cfg.stdoutLines, cfg.version)
	}
	if cfg.allocMB > 0 {
		go hold(cfg.allocAfter, cfg.allocMB)
	}
	if cfg.writeFile != "" {
		return appendLine(cfg.writeFile, cfg.version)
	}
	return nil
}

// listenAndServe serves until ctx is cancelled (graceful shutdown, exit 0),
// a code arrives on exit, or serving fails.
func listenAndServe(ctx context.Context, cfg config, exit <-chan int, stdout, stderr io.Writer) int {
	ln, err := net.Listen("tcp", ":"+cfg.port)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var healthy atomic.Bool
	healthy.Store(cfg.healthy)
	if cfg.unhealthyAfter > 0 {
		timer := time.AfterFunc(cfg.unhealthyAfter, func() {
			healthy.Store(false)
			fmt.Fprintf(stdout, "UNHEALTHY_AFTER=%s: /healthz now answers 503\n", cfg.unhealthyAfter)
		})
		defer timer.Stop()
	}
	srv := &http.Server{Handler: handler(cfg.version, &healthy), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "listening on %s version=%s healthy=%t\n", ln.Addr(), cfg.version, cfg.healthy)

	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "signal received: shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			fmt.Fprintln(stderr, "shutdown:", err)
		}
		return 0
	case code := <-exit:
		// No graceful shutdown: this simulates a process that dies while serving.
		fmt.Fprintf(stdout, "EXIT_AFTER=%s: exiting %d\n", cfg.exitAfter, code)
		return code
	case err := <-served:
		fmt.Fprintln(stderr, "serve:", err)
		return 1
	}
}

func handler(version string, healthy *atomic.Bool) http.Handler {
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, version)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "hello from %s, version %s\n", host, version)
	})
	return mux
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("WRITE_FILE: %w", err)
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return fmt.Errorf("WRITE_FILE: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("WRITE_FILE: %w", err)
	}
	return nil
}

// hold allocates n MiB after a delay and keeps it for the process's life.
func hold(after time.Duration, n int) {
	time.Sleep(after)
	b := allocate(n)
	for {
		time.Sleep(time.Hour)
		runtime.KeepAlive(b)
	}
}

// allocate takes n MiB a MiB at a time, writing every page so the memory
// is resident and counted against the container's limit.
func allocate(n int) [][]byte {
	var out [][]byte
	for range n {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		out = append(out, b)
	}
	return out
}
