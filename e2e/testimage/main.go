// Command testimage is the app under test in every berth e2e scenario.
//
// It is built static (CGO_ENABLED=0) and shipped in a FROM scratch image as
// /app (see package e2e/testenv), so everything a scenario needs from inside
// a container is a subcommand of this one binary: there is no shell.
//
// Without arguments (or with "serve") it is an HTTP server whose behaviour is
// switched by environment variables; see serve.go. The other subcommands are
// small clients and tools:
//
//	/app health [URL]        GET URL (default http://127.0.0.1:$PORT/healthz); exit 0 on 200, else 1
//	/app get URL             GET URL, print the body; exit 1 on error or non-2xx
//	/app sleep DURATION      sleep ("5s", or plain seconds "5"); SIGTERM ends it with 0
//	/app exit N              exit with code N
//	/app cat FILE            print FILE
//	/app load URL INTERVAL   GET URL every INTERVAL until SIGTERM, one count line per request
//	                         (KEEPALIVE=true: reuse connections, as a pooled client does)
//	/app swap PATH TARGET INTERVAL
//	                         print PATH's content, then replace PATH with a symlink to
//	                         TARGET every INTERVAL until SIGTERM (a compromised container
//	                         racing whoever writes PATH from outside)
//
// Exit code 2 means the command line or an environment variable was invalid.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: /app [serve]
       /app health [URL]
       /app get URL
       /app sleep DURATION
       /app exit N
       /app cat FILE
       /app load URL INTERVAL
       /app swap PATH TARGET INTERVAL`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit code. ctx is
// cancelled on SIGTERM or SIGINT.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "serve" {
		cfg, err := loadConfig(getenv)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		return serve(ctx, cfg, stdout, stderr)
	}
	cmd, rest := args[0], args[1:]
	switch {
	case cmd == "health" && len(rest) <= 1:
		url := "http://127.0.0.1:" + envOr(getenv, "PORT", defaultPort) + "/healthz"
		if len(rest) == 1 {
			url = rest[0]
		}
		return health(ctx, url, stdout, stderr)
	case cmd == "get" && len(rest) == 1:
		return get(ctx, rest[0], stdout, stderr)
	case cmd == "sleep" && len(rest) == 1:
		return sleep(ctx, rest[0], stderr)
	case cmd == "exit" && len(rest) == 1:
		return exit(rest[0], stderr)
	case cmd == "cat" && len(rest) == 1:
		return cat(rest[0], stdout, stderr)
	case cmd == "swap" && len(rest) == 3:
		return swap(ctx, rest[0], rest[1], rest[2], stdout, stderr)
	case cmd == "load" && len(rest) == 2:
		return load(ctx, rest[0], rest[1], getenv("KEEPALIVE") == "true", stdout, stderr)
	}
	fmt.Fprintln(stderr, usage)
	return 2
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
