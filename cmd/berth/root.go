package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/lmittmann/tint"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-gitops/berth/controller"
)

// exitError carries a process exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// globals are the flags every command takes.
type globals struct {
	logFormat string
	logLevel  string
	logger    *slog.Logger
	stdout    io.Writer
	stderr    io.Writer
}

// run executes the CLI and returns the process exit code: 0 success, 1 a
// failure (or, for plan, pending changes), 2 bad input.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Standard output carries what commits and errors hold: escaped (see
	// escapeControls). Standard error stays as it is for the logger's
	// colours; its handlers quote what they print.
	stdout = termWriter{w: stdout}
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "berth: %s\n", escapeControls(ee.err.Error(), true))
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "berth: %s\n", escapeControls(err.Error(), true))
	return 2
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "Keep Docker Compose stacks equal to a Git repository",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			logger, err := newLogger(g.stderr, g.logFormat, g.logLevel)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			g.logger = logger
			slog.SetDefault(logger)
			return nil
		},
	}
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: 2, err: err} })
	root.AddCommand(newVersionCmd(g), newConfigCmd(g), newPlanCmd(g), newApplyCmd(g))
	root.AddCommand(newRunCmd(g), newStatusCmd(g), newHistoryCmd(g))
	root.AddCommand(newRollbackCmd(g), newSyncCmd(g),
		newActCmd(g, controller.ActResume, "Follow the branch again after rollback or suspend", ""),
		newActCmd(g, controller.ActSuspend, "Stop acting on a stack without changing anything", "suspend makes the controller leave the stack as it is (no deploys, no drift\ncorrection) until 'berth resume STACK'."),
		newActCmd(g, controller.ActRetry, "Deploy a commit that failed verification again", "retry clears the failed commit that berth never retries by itself, so the\nnext cycle deploys it again."))
	root.AddCommand(newDiffCmd(g))
	root.AddCommand(newLintCmd(g))
	return root
}

// newLogger builds the process logger: tint on text, colour only on a
// terminal and without NO_COLOR, or JSON.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", level)
	}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl})), nil
	case "text":
		return slog.New(tint.NewTextHandler(w, &tint.Options{Level: lvl, NoColor: !colorable(w), TimeFormat: "15:04:05.000"})), nil
	default:
		return nil, fmt.Errorf("--log-format: %q is not one of text, json", format)
	}
}

// colorable reports whether w is a terminal and NO_COLOR is unset.
func colorable(w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
