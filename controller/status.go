package controller

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/berth-gitops/berth/controller/control"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/controller/watch"
	"github.com/berth-gitops/berth/rollout"
)

// Status is what `berth status` shows: the Git side and every stack.
type Status struct {
	Host    string        `json:"host,omitempty"`
	Env     string        `json:"env,omitempty"`
	Running bool          `json:"running"` // answered by a running controller
	Source  *SourceStatus `json:"source,omitempty"`
	// Listener is the TCP listener's state (webhooks, health, metrics).
	Listener *ListenerStatus `json:"listener,omitempty"`
	// Pressure is the host pressure watch's last readings, when it is on.
	Pressure *PressureStatus `json:"pressure,omitempty"`
	// Journeys are the stacks' scheduled verify probes (x-berth watch).
	Journeys []JourneyStatus `json:"journeys,omitempty"`
	Stacks   []StackStatus   `json:"stacks"`
}

// ListenerStatus is the TCP listener's state: listening, or the bind
// error it keeps retrying after (another process holds the address).
type ListenerStatus struct {
	Addr      string    `json:"addr"`
	Listening bool      `json:"listening"`
	Error     string    `json:"error,omitempty"`
	Since     time.Time `json:"since"`
}

// SetListener records the TCP listener's state for the status: err is
// the bind error, nil once it listens.
func (c *Controller) SetListener(addr string, err error) {
	ls := &ListenerStatus{Addr: addr, Listening: err == nil, Since: time.Now()}
	if err != nil {
		ls.Error = err.Error()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.listener; old != nil && old.Listening == ls.Listening && old.Error == ls.Error {
		return // keep Since: the state has not changed
	}
	c.listener = ls
}

// StackStatus is one stack's line in the status: its recorded state and,
// while it deploys, the rollout step in flight.
type StackStatus struct {
	store.StackState
	Rollout *rollout.Step `json:"rollout,omitempty"`
	// Services is what berth run saw of each service in the engine's
	// events since it started: restarts, exit codes, OOM kills, health.
	Services []watch.ServiceSummary `json:"services,omitempty"`
}

func stackStatus(st store.StackState) StackStatus { return StackStatus{StackState: st} }

// Status reports the controller's view now.
func (c *Controller) Status() Status {
	c.mu.Lock()
	src := c.source
	var listener *ListenerStatus
	if c.listener != nil {
		l := *c.listener
		listener = &l
	}
	stacks := make([]*stack, 0, len(c.stacks))
	for _, s := range c.stacks {
		stacks = append(stacks, s)
	}
	c.mu.Unlock()
	out := Status{Host: c.o.Host, Env: c.o.Env, Running: true, Source: &src, Listener: listener, Stacks: []StackStatus{}}
	for _, s := range stacks {
		s.mu.Lock()
		st, step := s.st, s.step
		s.mu.Unlock()
		if st.State != "" {
			ss := stackStatus(st)
			ss.Rollout = step
			ss.Services = c.watch.Summary(projectOf(st))
			out.Stacks = append(out.Stacks, ss)
		}
	}
	sortStacks(out.Stacks)
	if c.pressure != nil {
		out.Pressure = c.pressure.snapshot()
	}
	out.Journeys = c.journeys.snapshot()
	return out
}

// StatusFromStore is the status recorded in the data dir, for when no
// controller is running.
func StatusFromStore(db *store.Store) (Status, error) {
	states, err := db.States()
	if err != nil {
		return Status{}, err
	}
	out := Status{Stacks: []StackStatus{}}
	for _, st := range states {
		out.Stacks = append(out.Stacks, stackStatus(st))
	}
	sortStacks(out.Stacks)
	return out, nil
}

func sortStacks(s []StackStatus) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].Stack < s[j-1].Stack; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// ControlHandler serves the control socket: the detailed status, the
// history and the actions. Only root, berth's user and the control group
// reach it (see control.Serve).
//
//	GET /status                 the Status as JSON
//	GET /history/STACK?limit=N  the stack's deploys, newest first
//	POST /stacks/STACK/ACTION   retry, suspend, resume, or rollback[?to=COMMIT]
//	GET /healthz                200 while the controller runs
func (c *Controller) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", serveHealth)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.Status())
	})
	mux.HandleFunc("POST /stacks/{stack}/{action}", c.serveAct)
	mux.HandleFunc("GET /history/{stack}", c.serveHistory)
	return mux
}

// PublicHandler serves what the TCP listener shows anyone who reaches it:
// GET /healthz and GET /metrics. Status, history and the actions are on
// the control socket only.
func (c *Controller) PublicHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", serveHealth)
	mux.HandleFunc("GET /metrics", c.serveMetrics)
	return mux
}

func serveHealth(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) }

func (c *Controller) serveAct(w http.ResponseWriter, r *http.Request) {
	by := "an unknown peer"
	if p, ok := control.PeerFrom(r.Context()); ok {
		by = p.String()
	}
	st, err := c.Act(r.PathValue("stack"), r.PathValue("action"), r.URL.Query().Get("to"), by)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, ErrUnknownStack) {
			code = http.StatusNotFound
		}
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusAccepted, st)
}

func (c *Controller) serveHistory(w http.ResponseWriter, r *http.Request) {
	limit, err := queryLimit(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	h, err := c.o.Store.History(r.PathValue("stack"), limit)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	if h == nil {
		h = []store.Deploy{}
	}
	writeJSON(w, http.StatusOK, h)
}

func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 20, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return 0, errors.New("limit: want a positive number, got " + strconv.Quote(v))
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
