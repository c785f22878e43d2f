// Package controller keeps the stacks of one host equal to the head of a Git
// branch: it polls (or is triggered), fetches, finds the stacks meant for
// this host, and for each one loads, plans and applies the commit, records
// the outcome, corrects drift and removes stacks that left the repo.
package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/apply"
	"github.com/berth-gitops/berth/compose/stacks"
	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/policy"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/controller/watch"
	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/rollout"
)

// Source is the Git side the controller reads: gitsource.Repo.
type Source interface {
	Fetch(ctx context.Context) (gitsource.Commit, error)
	Head() (gitsource.Commit, error)
	Dirs(hash, dir string) ([]string, error)
	ReadFile(hash, path string) ([]byte, error)
	FileSize(hash, path string) (int64, error)
	ExportTree(hash, dir, parent string) (gitsource.Export, error)
	ExportPath(hash, dir, rel, parent string) (gitsource.Export, error)
	TreeHash(hash, dir string) (string, error)
	Changed(from, to string) ([]string, error)
	Commit(hash string) (gitsource.Commit, error)
	VerifyCommit(hash string) error
}

var _ Source = (*gitsource.Repo)(nil)

// Engine is the Docker API the controller drives.
type Engine interface {
	rollout.Engine
	apply.Remover
}

// Options configure a controller.
type Options struct {
	// Source is the repo; when nil, OpenSource opens it on the first cycle
	// and again after each failure, so a host that boots before its network
	// or its Git server keeps trying and shows why in status.
	Source     Source
	OpenSource func(ctx context.Context) (Source, error)
	Engine     Engine
	Store      *store.Store
	Logger     *slog.Logger
	// Schedule is when to poll.
	Schedule cron.Schedule
	// Path is the folder of stack folders in the repo; Host and Env select
	// the stacks and their overlays.
	Path, Host, Env string
	// StacksDir is where each commit's stack files are exported for
	// loading (StacksDir/NAME/<tree hash>/NAME); MountsDir where the copies
	// of the files services mount go (MountsDir/NAME/<object hash>; beside
	// StacksDir when empty); RenderRoot where its decrypted secrets go
	// (mode 0700), read from SecretsDir and with AgeKeyFile.
	StacksDir, MountsDir   string
	RenderRoot             string
	SecretsDir, AgeKeyFile string
	// SharedSecrets are the secrets at the top of SecretsDir every stack
	// may read (path.Match patterns); each reads its own in
	// SecretsDir/<stack>/.
	SharedSecrets []string
	// DriftWarn only reports drift instead of correcting it.
	DriftWarn bool
	// Settle is the apply's settle time; APIVersion the engine's.
	Settle     time.Duration
	APIVersion string
	// FetchTimeout bounds each clone or fetch (none when zero): a remote
	// that stops answering is abandoned and retried with backoff, and the
	// stacks are still kept equal to the last commit fetched meanwhile.
	FetchTimeout time.Duration
	// LoadTimeout is how long one stack's load may take (30 s when 0): a
	// load that takes longer is left behind and its stack stalls.
	LoadTimeout time.Duration
	// Ref describes what is followed, for status ("branch main").
	Ref string
	// URL is the repo's address without credentials, for status.
	URL string
	// Notify receives the deploy events (notifications and commit
	// statuses); it must not block. StatusURL links to a status page.
	Notify    func(notify.Event)
	StatusURL string
	// Policy is the host policy every commit is held to; PolicyRefused
	// are berth's own folders and files (data, secrets, credentials),
	// which no stack may mount.
	Policy        policy.Settings
	PolicyRefused []string
	// Windows are the host's deploy windows; a stack's x-berth adds its own.
	Windows []compose.Window
	// Pressure is the host pressure watch; off when Pressure.Every is 0.
	Pressure PressureOptions
	// Events is the engine whose events are followed for restart loops,
	// OOM kills and unhealthy containers; nil watches nothing.
	Events watch.Engine
}

// Controller is the loop. Create it with New, then call Run.
type Controller struct {
	o        Options
	log      *slog.Logger
	trigger  chan struct{}
	metrics  *metrics
	rec      recorder         // where stacks write; the store when nil
	trusted  gitsource.Commit // the last head that passed verification
	secrets  string           // the host secrets' signature this cycle
	pressure *pressureWatch   // nil when off
	journeys *journeys
	watch    *watch.Watcher // nil without Options.Events

	mu       sync.Mutex
	source   SourceStatus
	stacks   map[string]*stack
	running  string // the stack being reconciled
	listener *ListenerStatus
}

// SourceStatus is the Git side of the status.
type SourceStatus struct {
	URL       string            `json:"url"`
	Ref       string            `json:"ref"`
	Head      *gitsource.Commit `json:"head,omitempty"`
	LastFetch time.Time         `json:"last_fetch"`
	Error     string            `json:"error,omitempty"`
	Failures  int               `json:"failures,omitempty"`
}

// New makes a controller; it reads the stored state of every stack.
func New(o Options) (*Controller, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MountsDir == "" && o.StacksDir != "" {
		o.MountsDir = filepath.Join(filepath.Dir(o.StacksDir), "mounts")
	}
	c := &Controller{o: o, log: o.Logger, trigger: make(chan struct{}, 1), stacks: map[string]*stack{}, metrics: newMetrics(),
		source: SourceStatus{URL: o.URL, Ref: o.Ref}}
	c.journeys = newJourneys(c)
	if o.Pressure.Every > 0 {
		c.pressure = newPressureWatch(c)
	}
	c.newWatch()
	c.metrics.reg.MustRegister(newStackCollector(c.Status))
	states, err := o.Store.States()
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		if st.State == StateRemoved {
			continue
		}
		c.stacks[st.Stack] = c.newStack(st)
	}
	return c, nil
}

// Trigger asks for a fetch and reconcile now; a burst of triggers while a
// cycle runs coalesces into one more cycle.
func (c *Controller) Trigger() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Run polls until ctx ends. The operation in flight when it ends is
// finished, not cut off, so no stack is left half-applied.
func (c *Controller) Run(ctx context.Context) error {
	c.log.Info("controller started", "repo", c.o.URL, "ref", c.o.Ref, "path", c.o.Path, "host", c.o.Host, "env", c.o.Env, "stacks", len(c.stacks))
	defer c.startBeside(ctx)()
	ctx, stopWatch := context.WithCancel(ctx)
	defer c.startWatch(ctx)()
	defer stopWatch()
	var triggered time.Time
	for {
		wait := c.cycle(ctx)
		if ctx.Err() != nil {
			return nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			c.log.Info("controller stopped")
			return nil
		case <-timer.C:
		case <-c.trigger:
			timer.Stop()
			// The first trigger of a burst runs at once; the rest of the
			// burst waits for the gap and becomes one more cycle.
			if gap := time.Until(triggered.Add(triggerGap)); gap > 0 {
				select {
				case <-ctx.Done():
					c.log.Info("controller stopped")
					return nil
				case <-time.After(gap):
				}
				select {
				case <-c.trigger:
				default:
				}
			}
			triggered = time.Now()
		}
	}
}

// triggerGap is the least time between two triggered cycles: a burst of
// webhooks (a merge train, a retried delivery) fetches at once and then at
// most once more a second.
const triggerGap = time.Second

// Once runs one cycle: fetch, then reconcile every stack. It returns how
// long Run would wait before the next one.
func (c *Controller) Once(ctx context.Context) time.Duration { return c.cycle(ctx) }

// cycle runs one cycle and records how long it took.
func (c *Controller) cycle(ctx context.Context) time.Duration {
	start := time.Now()
	defer func() { c.metrics.cycle(time.Since(start)) }()
	return c.runCycle(ctx)
}

// runCycle fetches and reconciles every stack once, and says how long to wait
// for the next one.
func (c *Controller) runCycle(ctx context.Context) time.Duration {
	if c.o.Source == nil {
		src, err := withFetchTimeout(ctx, c.o.FetchTimeout, func(ctx context.Context) (Source, error) { return c.o.OpenSource(ctx) })
		if src != nil {
			c.mu.Lock()
			c.o.Source = src // a clone from an earlier run still serves
			c.mu.Unlock()
		}
		if err != nil {
			return c.fetchFailed(ctx, err)
		}
	}
	fetched := time.Now()
	head, err := withFetchTimeout(ctx, c.o.FetchTimeout, func(ctx context.Context) (gitsource.Commit, error) { return c.o.Source.Fetch(ctx) })
	if ctx.Err() == nil {
		c.metrics.fetch(err == nil, time.Since(fetched))
	}
	if err != nil {
		return c.fetchFailed(ctx, err)
	}
	if err := c.o.Source.VerifyCommit(head.Hash); err != nil {
		// An untrusted commit is never deployed: the stacks stay at the
		// last trusted head, whose drift is still put back.
		c.mu.Lock()
		c.source.Head, c.source.LastFetch = &head, time.Now()
		c.mu.Unlock()
		c.sourceFailed(fmt.Errorf("commit %s refused: %w", head.Short(), err))
		if c.trusted.Hash != "" {
			c.reconcileAll(ctx, c.trusted)
		}
		return c.next()
	}
	c.sourceOK(head)
	c.trusted = head
	c.reconcileAll(ctx, head)
	return c.next()
}

// next is the wait until the scheduled poll, with up to 10% jitter (at most
// 30 s) so that hosts following one repo do not fetch in step.
func (c *Controller) next() time.Duration {
	now := time.Now()
	d := c.o.Schedule.Next(now).Sub(now)
	if d < 0 {
		d = 0
	}
	j := min(d/10, 30*time.Second)
	if j > 0 {
		d += rand.N(j)
	}
	return d
}

const (
	backoffBase = 2 * time.Second
	backoffCap  = 5 * time.Minute
)

// backoff is the wait after n consecutive failures: doubling from 2 s up to
// 5 minutes.
func backoff(n int) time.Duration {
	d := backoffBase
	for i := 1; i < n && d < backoffCap; i++ {
		d *= 2
	}
	return min(d, backoffCap)
}

// fetchFailed records a failed fetch and keeps the stacks equal to the last
// commit fetched, if there is one: drift is still put back while the Git
// server is away.
func (c *Controller) fetchFailed(ctx context.Context, err error) time.Duration {
	if ctx.Err() != nil {
		return 0
	}
	wait := c.sourceFailed(err)
	if c.o.Source == nil {
		return wait
	}
	head, herr := c.o.Source.Head()
	if herr != nil || head.Hash == "" || c.o.Source.VerifyCommit(head.Hash) != nil {
		return wait
	}
	c.reconcileAll(ctx, head)
	return wait
}

func (c *Controller) sourceFailed(err error) time.Duration {
	c.mu.Lock()
	c.source.Failures++
	n := c.source.Failures
	c.source.Error = err.Error()
	c.mu.Unlock()
	wait := backoff(n)
	// The first failure and then every 10th are logged: a remote that is
	// down for an hour must not fill the log.
	if n == 1 || n%10 == 0 {
		c.log.Error("git source failed", "error", err, "failures", n, "retry_in", wait.Round(time.Second).String())
	}
	return wait
}

func (c *Controller) sourceOK(head gitsource.Commit) {
	c.mu.Lock()
	n := c.source.Failures
	prev := c.source.Head
	c.source.Failures, c.source.Error = 0, ""
	c.source.Head, c.source.LastFetch = &head, time.Now()
	c.mu.Unlock()
	if n > 0 {
		c.log.Info("git source recovered", "failures", n, "commit", head.Short())
	}
	if prev == nil || prev.Hash != head.Hash {
		c.log.Info("new head", "commit", head.Short(), "author", head.Author, "message", firstLine(head.Message))
	}
}

// reconcileAll finds the stacks for this host at head and reconciles each,
// one at a time; a stack that stalls or fails does not stop the others.
func (c *Controller) reconcileAll(ctx context.Context, head gitsource.Commit) {
	c.secrets = c.secretsSig()
	wanted, err := c.discover(head)
	if err != nil {
		c.sourceFailed(fmt.Errorf("read stacks at %s: %w", head.Short(), err))
		return
	}
	for _, name := range sortedNames(wanted, c.known()) {
		if ctx.Err() != nil {
			return
		}
		s := c.stackFor(name)
		release := c.journeys.hold(name)
		c.setRunning(name)
		st := s.state()
		switch {
		case wanted[name]:
			s.reconcile(ctx, head)
		case st.Suspended || st.Pinned != "":
			// A person holds this stack: it is not removed behind their back.
			s.log.Warn("stack left the repo or this host, but is suspended or pinned: keeping it; berth resume removes it")
		default:
			s.remove(ctx, head)
		}
		c.setRunning("")
		release()
	}
}

// discover lists the stacks at head and says, for each, whether this host
// runs it, from the commit's tree: nothing is exported or loaded to find
// out. A stack that is bad (its name) or whose x-berth cannot be read is
// kept (it stalls or retries in reconcile with the error) rather than
// removed, and does not hold the other stacks back.
func (c *Controller) discover(head gitsource.Commit) (map[string]bool, error) {
	tree := stacks.Commit(c.o.Source, head.Hash)
	found, err := stacks.Find(tree, c.o.Path)
	if err != nil {
		return nil, err
	}
	wanted := map[string]bool{}
	for _, f := range found {
		s := c.stackFor(f.Name)
		s.bad = f.Err
		set, err := stacks.Settings(tree, f, c.o.Env)
		wanted[f.Name] = err != nil || set.RunsOn(c.o.Host)
		if !wanted[f.Name] {
			c.log.Debug("stack not for this host", "stack", f.Name, "hosts", set.Hosts)
		}
	}
	return wanted, nil
}

func (c *Controller) known() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for name, s := range c.stacks {
		if st := s.state(); st.State != "" && st.State != StateRemoved {
			names = append(names, name)
		}
	}
	return names
}

func (c *Controller) stackFor(name string) *stack {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.stacks[name]
	if !ok {
		s = c.newStack(store.StackState{Stack: name})
		c.stacks[name] = s
	}
	return s
}

func (c *Controller) setRunning(name string) {
	c.mu.Lock()
	c.running = name
	c.mu.Unlock()
}

// sortedNames lists the wanted stacks and the known ones (deployed here
// before, which may need removing), each once, in name order.
func sortedNames(wanted map[string]bool, known []string) []string {
	seen := map[string]bool{}
	var names []string
	for name, ok := range wanted {
		if ok {
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, name := range known {
		if !seen[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}

// secretsSig is a cheap signature of the host's secrets (each file's name,
// size and modification time) and of the age key file: when it changes,
// stacks are loaded again, and a service whose secret changed rolls. No
// secret is read for it.
func (c *Controller) secretsSig() string {
	h := sha256.New()
	stat := func(path string) {
		if st, err := os.Stat(path); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", path, st.Size(), st.ModTime().UnixNano())
		}
	}
	if c.o.SecretsDir != "" {
		entries, _ := os.ReadDir(c.o.SecretsDir)
		for _, e := range entries {
			p := filepath.Join(c.o.SecretsDir, e.Name())
			stat(p)
			if e.IsDir() { // a stack's own secrets
				own, _ := os.ReadDir(p)
				for _, o := range own {
					stat(filepath.Join(p, o.Name()))
				}
			}
		}
	}
	if c.o.AgeKeyFile != "" {
		stat(c.o.AgeKeyFile)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// stackPath is a stack's folder in the repo.
func (c *Controller) stackPath(name string) string { return path.Join(c.o.Path, name) }
