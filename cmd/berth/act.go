package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/gitsource"
)

// newActCmd makes retry, suspend and resume: each asks the running
// controller to act on one stack.
func newActCmd(g *globals, action, short, long string) *cobra.Command {
	r := &reader{}
	cmd := &cobra.Command{
		Use:   action + " STACK",
		Short: short,
		Long:  long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := r.act(cmd.Context(), args[0], action, "")
			if err != nil {
				return err
			}
			return r.printStack(g, st)
		},
	}
	r.register(cmd)
	return cmd
}

func newRollbackCmd(g *globals) *cobra.Command {
	r := &reader{}
	var to string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "rollback STACK",
		Short: "Put a stack on an earlier good commit now and pin it there",
		Long: `rollback deploys an earlier commit of the stack (--to, or the last good
deploy before the one live) through the same health gates, and pins the
stack there: it stops following the branch, as status shows, until
'berth resume STACK'. It waits for the deploy to end (--timeout).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return &exitError{code: 2, err: fmt.Errorf("--timeout: want a positive duration, got %s", timeout)}
			}
			st, err := r.act(cmd.Context(), args[0], controller.ActRollback, to)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "rolling %s back to %s\n", args[0], gitsource.Short(st.Pinned))
			st, err = r.waitPinned(cmd.Context(), args[0], st.Pinned, timeout)
			if err != nil {
				return err
			}
			if err := r.printStack(g, st); err != nil {
				return err
			}
			if st.Applied != st.Pinned {
				return &exitError{code: 1, err: fmt.Errorf("stack %s is %s, not at %s: %s", st.Stack, st.State, gitsource.Short(st.Pinned), st.Error)}
			}
			return nil
		},
	}
	r.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", "the commit to go to (default: the last good deploy before the live one)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the rollback to end")
	return cmd
}

func newSyncCmd(g *globals) *cobra.Command {
	r := &reader{}
	var override bool
	cmd := &cobra.Command{
		Use:   "sync STACK",
		Short: "Look at a stack now; with --override-window, deploy its new commit outside the deploy windows",
		Long: `sync asks the running controller to look at the stack now. Outside the
stack's deploy windows a new commit waits ("waiting for window" in status);
--override-window deploys it now, and the history names who asked.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			action := controller.ActSync
			if override {
				action = controller.ActOverrideWindow
			}
			st, err := r.act(cmd.Context(), args[0], action, "")
			if err != nil {
				return err
			}
			return r.printStack(g, st)
		},
	}
	r.register(cmd)
	cmd.Flags().BoolVar(&override, "override-window", false, "deploy the new commit now, even outside the deploy windows")
	return cmd
}

// act posts an action to the running controller's control socket.
func (r *reader) act(ctx context.Context, stack, action, to string) (controller.StackStatus, error) {
	var st controller.StackStatus
	if err := r.resolve(); err != nil {
		return st, &exitError{code: 2, err: err}
	}
	path := fmt.Sprintf("/stacks/%s/%s", url.PathEscape(stack), action)
	if to != "" {
		path += "?to=" + url.QueryEscape(to)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, ok, err := r.do(ctx, http.MethodPost, path)
	switch {
	case err != nil:
		return st, &exitError{code: 1, err: fmt.Errorf("%s %s: %w", action, stack, err)}
	case !ok:
		return st, &exitError{code: 1, err: fmt.Errorf("%s needs the running controller, and none answers at %s (set --socket or the config's control.socket)", action, r.socket)}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusAccepted {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return st, &exitError{code: 1, err: fmt.Errorf("%s %s: %s", action, stack, e.Error)}
	}
	return st, json.Unmarshal(body, &st)
}

// waitPinned polls the status until the stack's deploy of commit ends.
func (r *reader) waitPinned(ctx context.Context, stack, commit string, timeout time.Duration) (controller.StackStatus, error) {
	deadline := time.Now().Add(timeout)
	for {
		var st controller.Status
		ok, err := r.get(ctx, "/status", &st)
		if err != nil {
			return controller.StackStatus{}, &exitError{code: 1, err: err}
		}
		if !ok {
			return controller.StackStatus{}, &exitError{code: 1, err: fmt.Errorf("the controller at %s stopped answering", r.socket)}
		}
		for _, s := range st.Stacks {
			if s.Stack != stack {
				continue
			}
			done := s.Applied == commit && s.Rollout == nil && s.State != controller.StateDeploying
			failed := s.Attempted == commit && (s.State == controller.StateFailed || s.State == controller.StateRolledBack || s.State == controller.StateStalled || s.State == controller.StateRetrying)
			if done || failed || s.Pinned != commit {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			return controller.StackStatus{}, &exitError{code: 1, err: fmt.Errorf("the rollback of %s did not end within %s", stack, timeout)}
		}
		select {
		case <-ctx.Done():
			return controller.StackStatus{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (r *reader) printStack(g *globals, st controller.StackStatus) error {
	if r.json {
		return printJSON(g.stdout, st)
	}
	fmt.Fprintf(g.stdout, "stack %s: %s at %s", st.Stack, st.State, orDash(gitsource.Short(st.Applied)))
	switch {
	case st.Suspended:
		fmt.Fprint(g.stdout, " (suspended)")
	case st.Pinned != "":
		fmt.Fprintf(g.stdout, " (pinned to %s)", gitsource.Short(st.Pinned))
	}
	fmt.Fprintln(g.stdout)
	if st.Error != "" {
		fmt.Fprintf(g.stdout, "error: %s\n", st.Error)
	}
	return nil
}
