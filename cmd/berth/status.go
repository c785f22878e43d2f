package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/config"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
)

// reader finds the controller's state: the running controller's control
// socket, or the data dir when none answers.
type reader struct {
	socket, dataDir, configFile string
	json                        bool
}

func (r *reader) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&r.socket, "socket", "", "the running controller's control socket (default: control.socket from the config, DATA_DIR/berth.sock)")
	cmd.Flags().StringVar(&r.dataDir, "data-dir", "", "the data dir to read when no controller answers (default: data_dir from the config, /var/lib/berth)")
	cmd.Flags().StringVar(&r.configFile, "config", "", "the config file of berth run (also BERTH_CONFIG)")
	cmd.Flags().BoolVar(&r.json, "json", false, "print JSON")
}

// resolve fills the socket and data dir from the config file and BERTH_*
// variables when the flags leave them out.
func (r *reader) resolve() error {
	cfg := config.Default()
	file := r.configFile
	if file == "" {
		file = os.Getenv("BERTH_CONFIG")
	}
	if file != "" {
		var err error
		if cfg, err = config.Load(file); err != nil {
			return err
		}
	}
	if err := cfg.ApplyEnv(os.Getenv); err != nil {
		return err
	}
	if r.dataDir == "" {
		r.dataDir = cfg.DataDir
	} else if cfg.Control.Socket == "" {
		cfg.DataDir = r.dataDir // the socket is in the data dir given
	}
	if r.socket == "" {
		r.socket = cfg.ControlSocket()
	}
	return nil
}

// errNoAccess is a control socket that refuses this user.
var errNoAccess = errors.New("the control socket is for root, berth's user and the members of control.group: run this as one of them (sudo)")

// do sends a request over the control socket; ok is false when nothing
// answers there.
func (r *reader) do(ctx context.Context, method, path string) (res *http.Response, ok bool, err error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://berth"+path, nil)
	if err != nil {
		return nil, false, err
	}
	res, err = socketClient(r.socket).Do(req)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return nil, true, fmt.Errorf("%s: permission denied; %w", r.socket, errNoAccess)
	case err != nil:
		return nil, false, nil // not running
	case res.StatusCode == http.StatusForbidden:
		res.Body.Close()
		return nil, true, fmt.Errorf("%s: refused; %w", r.socket, errNoAccess)
	}
	return res, true, nil
}

// socketClient is an HTTP client whose every request goes to the Unix
// socket at path.
func socketClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true, // each call makes its own client
	}}
}

// get asks the running controller; ok is false when none answers.
func (r *reader) get(ctx context.Context, path string, v any) (ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	res, ok, err := r.do(ctx, http.MethodGet, path)
	if !ok || err != nil {
		return ok, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return true, fmt.Errorf("%s %s: %s: %s", r.socket, path, res.Status, strings.TrimSpace(string(body)))
	}
	return true, json.NewDecoder(res.Body).Decode(v)
}

// read asks the running controller for path, or reads the data dir with
// fromStore when none answers.
func read[T any](ctx context.Context, r *reader, path string, fromStore func(*store.Store) (T, error)) (T, error) {
	var v T
	ok, err := r.get(ctx, path, &v)
	if ok || err != nil {
		return v, err
	}
	db, err := r.openStore()
	if err != nil {
		return v, err
	}
	defer db.Close()
	return fromStore(db)
}

func (r *reader) openStore() (*store.Store, error) {
	path := filepath.Join(r.dataDir, "berth.db")
	_, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("no controller answers at %s, and the data dir %s is not readable by you: the state is for root and berth's user; run this as one of them (sudo)", r.socket, r.dataDir)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no controller answers at %s and the data dir %s has no state (has berth run ever run here?)", r.socket, r.dataDir)
	}
	return store.OpenReadOnly(path)
}

func newStatusCmd(g *globals) *cobra.Command {
	r := &reader{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each stack's live commit, state and last error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := r.resolve(); err != nil {
				return &exitError{code: 2, err: err}
			}
			st, err := read(cmd.Context(), r, "/status", controller.StatusFromStore)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			if r.json {
				return printJSON(g.stdout, st)
			}
			printStatus(g.stdout, st)
			return nil
		},
	}
	r.register(cmd)
	return cmd
}

func printStatus(w io.Writer, st controller.Status) {
	if !st.Running {
		fmt.Fprintln(w, "controller: not running (state read from the data dir)")
	}
	if src := st.Source; src != nil {
		head := "none yet"
		if src.Head != nil {
			head = fmt.Sprintf("%s %q by %s", src.Head.Short(), firstLine(src.Head.Message), oneLine(src.Head.Author))
		}
		fmt.Fprintf(w, "source:     %s (%s)\nhead:       %s\n", src.URL, src.Ref, head)
		if !src.LastFetch.IsZero() {
			fmt.Fprintf(w, "last fetch: %s ago\n", ago(src.LastFetch))
		}
		if src.Error != "" {
			fmt.Fprintf(w, "error:      %s (%d failures in a row)\n", src.Error, src.Failures)
		}
		fmt.Fprintln(w)
	}
	if l := st.Listener; l != nil {
		if l.Listening {
			fmt.Fprintf(w, "listen:     %s\n\n", l.Addr)
		} else {
			fmt.Fprintf(w, "listen:     %s NOT LISTENING (binding again with backoff for %s): %s\n\n", l.Addr, ago(l.Since), l.Error)
		}
	}
	printWatch(w, st)
	if len(st.Stacks) == 0 {
		fmt.Fprintln(w, "no stacks deployed yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STACK\tSTATE\tLIVE\tHEAD\tSINCE\tNOTE")
	for _, s := range st.Stacks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(s.Stack), oneLine(s.State), orDash(gitsource.Short(s.Applied)), orDash(gitsource.Short(s.Head)), ago(s.Since), oneLine(note(s)))
	}
	tw.Flush()
}

// note is the one thing a person should know about a stack now.
func note(s controller.StackStatus) string {
	var parts []string
	if r := s.Rollout; r != nil {
		step := r.Message
		if r.Waited > 0 {
			step += fmt.Sprintf(" (%s)", r.Waited.Round(100*time.Millisecond))
		}
		parts = append(parts, step)
	}
	switch {
	case s.Suspended:
		parts = append(parts, "suspended: berth resume "+s.Stack)
	case s.Pinned != "":
		parts = append(parts, "pinned to "+gitsource.Short(s.Pinned)+": berth resume "+s.Stack)
	}
	if s.Failed != "" {
		what := "failed, not retried by itself"
		if s.Halted {
			what = "failed and so did its rollback: left alone"
		}
		parts = append(parts, fmt.Sprintf("%s %s: berth retry %s", gitsource.Short(s.Failed), what, s.Stack))
	}
	if s.State == controller.StateWaiting {
		parts = append(parts, controller.WindowNote(s.StackState, time.Now()))
	}
	if s.Override != "" {
		parts = append(parts, "deploy outside the windows asked by "+s.Override)
	}
	if s.State == controller.StateRetrying && s.Retry != "" {
		parts = append(parts, controller.RetryNote(s.StackState, time.Now()))
	}
	if s.Error != "" {
		parts = append(parts, firstLine(s.Error))
	}
	for _, svc := range s.Services {
		for _, k := range svc.Incidents {
			parts = append(parts, fmt.Sprintf("%s: %s (%d restarts, %d OOM kills since berth started)", svc.Service, k, svc.Restarts, svc.OOMKills))
		}
	}
	return strings.Join(parts, "; ")
}

func newHistoryCmd(g *globals) *cobra.Command {
	r := &reader{}
	var limit int
	cmd := &cobra.Command{
		Use:   "history STACK",
		Short: "Show a stack's recent deploys, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return &exitError{code: 2, err: fmt.Errorf("--limit: want a positive number, got %d", limit)}
			}
			if err := r.resolve(); err != nil {
				return &exitError{code: 2, err: err}
			}
			h, err := read(cmd.Context(), r, fmt.Sprintf("/history/%s?limit=%d", url.PathEscape(args[0]), limit),
				func(db *store.Store) ([]store.Deploy, error) { return db.History(args[0], limit) })
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			if h == nil {
				h = []store.Deploy{}
			}
			if r.json {
				return printJSON(g.stdout, h)
			}
			printHistory(g.stdout, args[0], h)
			return nil
		},
	}
	r.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", 20, "how many deploys to show")
	return cmd
}

func printHistory(w io.Writer, stack string, h []store.Deploy) {
	if len(h) == 0 {
		fmt.Fprintf(w, "no deploys of stack %s recorded\n", stack)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED\tTOOK\tCOMMIT\tOUTCOME\tAUTHOR\tMESSAGE")
	for _, d := range h {
		fmt.Fprintf(tw, "%d\t%s\t%.1fs\t%s\t%s\t%s\t%s\n", d.ID, d.Start.Local().Format("2006-01-02 15:04:05"), d.End.Sub(d.Start).Seconds(), gitsource.Short(d.Commit), oneLine(d.Outcome), oneLine(d.Author), oneLine(d.Message))
		if d.By != "" {
			fmt.Fprintf(tw, "\t\t\t\toutside the deploy windows, asked by %s\t\t\n", oneLine(d.By))
		}
		if d.Error != "" {
			for _, line := range strings.Split(d.Error, "\n") {
				fmt.Fprintf(tw, "\t\t\t\terror: %s\t\t\n", oneLine(line))
			}
		}
		for _, op := range d.Operations {
			fmt.Fprintf(tw, "\t\t\t\t  %s\t\t\n", oneLine(op))
		}
		for _, w := range d.Warnings {
			fmt.Fprintf(tw, "\t\t\t\tlint: %s\t\t\n", oneLine(w))
		}
	}
	tw.Flush()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
