package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-gitops/berth/compose/observe"
	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/commitstatus"
	"github.com/berth-gitops/berth/controller/config"
	"github.com/berth-gitops/berth/controller/control"
	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/statuspage"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/controller/webhook"
	"github.com/berth-gitops/berth/gitsource"
)

func newRunCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Follow a Git branch and keep this host's stacks equal to its head",
		Long: `run clones the repo into the data dir, then on every poll (or trigger)
fetches, finds the stacks under --path meant for this host, and deploys each
commit that changes one. A stack whose files do not load stalls with the
error in status; drift is put back; a stack that leaves the repo is removed
(named volumes stay). SIGTERM finishes the operation in flight and exits 0.

Every flag is also a config file key and a BERTH_* variable; flags win over
variables, variables over the file.`,
		Args: cobra.NoArgs,
	}
	flags := config.BindFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := flags.Resolve(os.Getenv)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		return runController(cmd.Context(), g, cfg)
	}
	return cmd
}

func runController(ctx context.Context, g *globals, cfg config.Config) error {
	if err := checkPaths(cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	sched, err := config.ParseSchedule(cfg.Poll)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	src, err := sourceOptions(cfg, g)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	db, err := store.Open(filepath.Join(cfg.DataDir, "berth.db"))
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer db.Close()
	sec, err := cfg.ReadSecrets()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	notifier, err := newNotifier(cfg, sec, g)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		notifier.Close(ctx)
	}()
	engine, err := observe.Connect(ctx)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer engine.Close()
	windows, err := cfg.DeployWindows() // checked by Validate
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	ctl, err := controller.New(controller.Options{
		OpenSource: func(ctx context.Context) (controller.Source, error) {
			r, err := gitsource.Open(ctx, src)
			if r == nil {
				return nil, err // not a nil *Repo in a non-nil interface
			}
			return r, err
		},
		Engine:     engine,
		Events:     engine,
		Store:      db,
		Logger:     g.logger,
		Schedule:   sched,
		Path:       cfg.Path,
		Host:       cfg.Host,
		Env:        cfg.Env,
		StacksDir:  filepath.Join(cfg.DataDir, "stacks"),
		MountsDir:  filepath.Join(cfg.DataDir, "mounts"),
		RenderRoot: filepath.Join(cfg.DataDir, "rendered"),
		SecretsDir: cfg.SecretsDir, SharedSecrets: cfg.SharedSecrets,
		AgeKeyFile:   cfg.AgeKeyFile,
		DriftWarn:    cfg.Drift == config.DriftWarn,
		Settle:       cfg.Settle.Duration,
		FetchTimeout: cfg.Git.FetchTimeout.Duration,
		APIVersion:   engine.ClientVersion(),
		Ref:          refName(cfg),
		URL:          gitsource.Redact(cfg.Repo),
		Notify:       notifier.Notify,
		StatusURL:    cfg.StatusURL,
		Policy:       cfg.Policy,
		Windows:      windows,
		LoadTimeout:  cfg.LoadTimeout.Duration,
		// berth's own folders and files: no stack may mount them.
		PolicyRefused: cfg.OwnPaths(),
		Pressure: controller.PressureOptions{Every: cfg.Pressure.Interval.Duration, DataDir: cfg.DataDir,
			Warning: float64(cfg.Pressure.Warning) / 100, Critical: float64(cfg.Pressure.Critical) / 100,
			StateFile: filepath.Join(cfg.DataDir, "pressure.json")},
	})
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	stopControl, err := serveControl(g, cfg, ctl)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer stopControl()
	defer serveTCP(g, cfg, handler(cfg, sec, g, ctl, db), ctl)()
	return ctl.Run(ctx)
}

// sourceOptions turns the host settings into the Git source's, reading the
// credential files.
func sourceOptions(cfg config.Config, g *globals) (gitsource.Options, error) {
	o := gitsource.Options{
		URL: cfg.Repo, Dir: filepath.Join(cfg.DataDir, "repo"),
		Branch: cfg.Branch, Tag: cfg.Tag, Commit: cfg.Commit,
		Logger: g.logger,
	}
	if cfg.Tag != "" || cfg.Commit != "" {
		o.Branch = ""
	}
	if cfg.Shallow {
		o.Depth = 1
	}
	sec, err := cfg.ReadSecrets()
	if err != nil {
		return o, err
	}
	o.Auth = gitsource.Auth{
		Username: cfg.Git.Username, Password: sec.Password, Token: sec.Token,
		SSHKeyFile: cfg.Git.SSHKeyFile, KnownHostsFile: cfg.Git.KnownHostsFile,
	}
	if cfg.Git.VerifyCommits {
		o.Verify = &gitsource.Verifier{ArmoredKeyRing: sec.TrustedKeys}
	}
	return o, nil
}

func refName(cfg config.Config) string {
	switch {
	case cfg.Commit != "":
		return "commit " + cfg.Commit
	case cfg.Tag != "":
		return "tag " + cfg.Tag
	}
	return "branch " + cfg.Branch
}

// checkPaths refuses to start on folders and files another user could
// change under berth, and makes the data dir (0700) when missing.
func checkPaths(cfg config.Config) error {
	errs := []error{
		control.CheckDir("data dir", cfg.DataDir, true),
		control.CheckDir("secrets dir", cfg.SecretsDir, false),
	}
	if sockDir := filepath.Dir(cfg.ControlSocket()); sockDir != filepath.Clean(cfg.DataDir) {
		errs = append(errs, control.CheckDir("the control socket's folder", sockDir, true))
	}
	for _, f := range cfg.Files() {
		errs = append(errs, control.CheckFile(f.Key, f.Path))
	}
	return errors.Join(errs...)
}

// serveControl serves status, history and the actions on the control
// socket, and returns its stop function.
func serveControl(g *globals, cfg config.Config, ctl *controller.Controller) (func(), error) {
	gid, err := cfg.ControlGID()
	if err != nil {
		return nil, err
	}
	sock, err := control.Listen(cfg.ControlSocket(), gid)
	if err != nil {
		return nil, err
	}
	return control.Serve(sock, ctl.ControlHandler(), control.Access{UID: os.Geteuid(), GID: gid}, g.logger), nil
}

// serveTCP runs the listen server (webhooks, health, metrics) until the
// returned stop function is called. A taken address does not stop berth:
// the server binds again with backoff, and the status shows the error.
func serveTCP(g *globals, cfg config.Config, h http.Handler, ctl *controller.Controller) (stop func()) {
	addr := cfg.ListenAddr()
	if addr == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	tcp := &control.TCP{
		Addr:    addr,
		Handler: control.AllowedHosts(addr, cfg.AllowedHosts).Guard(h),
		Logger:  g.logger.With("server", "listen"),
		Report:  func(err error) { ctl.SetListener(addr, err) },
	}
	go func() {
		defer close(done)
		tcp.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// newNotifier sends the controller's events to the configured sinks: chat
// webhooks, a signed generic webhook and the Git host's commit statuses.
func newNotifier(cfg config.Config, sec config.Secrets, g *globals) (*notify.Notifier, error) {
	var targets []notify.Target
	var errs []error
	for i, n := range cfg.Notify.AllSinks() {
		t, err := notifyTarget(n, sec.Sinks[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		targets = append(targets, t)
	}
	var sinks []notify.Sink
	if cfg.CommitStatus.Provider != "" {
		owner, repo, err := cfg.CommitStatusRepo()
		if err != nil {
			return nil, fmt.Errorf("commit_status: %w", err)
		}
		c, err := commitstatus.New(commitstatus.Options{Provider: cfg.CommitStatus.Provider, BaseURL: cfg.CommitStatus.URL,
			Token: sec.CommitStatusToken, Owner: owner, Repo: repo})
		if err != nil {
			return nil, fmt.Errorf("commit_status: %w", err)
		}
		sinks = append(sinks, c.Sink())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return notify.New(notify.Options{Sinks: sinks, Targets: targets, Window: cfg.Notify.Window.Duration, Logger: g.logger}), nil
}

// notifyTarget makes one configured sink, with the route it hears.
func notifyTarget(n config.NotifySink, sec config.SinkSecret) (notify.Target, error) {
	route, err := n.Route()
	if err != nil {
		return notify.Target{}, err
	}
	var s notify.Sink
	switch n.Kind() {
	case config.SinkSlack:
		s, err = notify.Slack(sec.URL, nil)
	case config.SinkDiscord:
		s, err = notify.Discord(sec.URL, nil)
	case config.SinkTeams:
		s, err = notify.Teams(sec.URL, nil)
	case config.SinkWebhook:
		s, err = notify.Webhook(n.WebhookURL, []byte(sec.WebhookSecret), nil)
	default:
		err = errors.New("no destination")
	}
	if err != nil {
		return notify.Target{}, fmt.Errorf("%s: %w", n.Key(), err)
	}
	return notify.Target{Name: n.Name, Sink: s, Route: route}, nil
}

// handler is the listen server's: health, metrics, the status page unless
// it is off, and the webhooks that are on.
func handler(cfg config.Config, sec config.Secrets, g *globals, ctl *controller.Controller, db *store.Store) http.Handler {
	wc := webhook.Config{
		GitHubSecret: []byte(sec.GitHubWebhookSecret), GiteaSecret: []byte(sec.GiteaWebhookSecret),
		GitLabToken: []byte(sec.GitLabWebhookToken), BitbucketSecret: []byte(sec.BitbucketWebhookSecret),
		GenericSecret: []byte(sec.GenericWebhookSecret), Logger: g.logger,
		MaxConcurrent: cfg.Webhooks.MaxConcurrent, Observe: ctl.WebhookHandled,
	}
	switch {
	case cfg.Tag != "":
		wc.Tag = cfg.Tag
	case cfg.Commit == "":
		wc.Branch = cfg.Branch
	}
	mux := http.NewServeMux()
	mux.Handle("/", ctl.PublicHandler())
	if cfg.StatusPage {
		page := statuspage.Handler(statuspage.Options{Status: ctl.Status, History: db.History, Logger: g.logger})
		mux.Handle("GET /{$}", page)
		mux.Handle("GET /static/", page)
	}
	if wc.Enabled() {
		mux.Handle("/hooks/", webhook.New(wc, func(string) { ctl.Trigger() }))
	}
	return mux
}
