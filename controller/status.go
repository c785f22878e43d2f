package controller

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/rollout"
)

// Status is what `berth status` shows: the Git side and every stack.
type Status struct {
	Host    string        `json:"host,omitempty"`
	Env     string        `json:"env,omitempty"`
	Running bool          `json:"running"` // answered by a running controller
	Source  *SourceStatus `json:"source,omitempty"`
	Stacks  []StackStatus `json:"stacks"`
}

// StackStatus is one stack's line in the status: its recorded state and,
// while it deploys, the rollout step in flight.
type StackStatus struct {
	store.StackState
	Rollout *rollout.Step `json:"rollout,omitempty"`
}

func stackStatus(st store.StackState) StackStatus { return StackStatus{StackState: st} }

// Status reports the controller's view now.
func (c *Controller) Status() Status {
	c.mu.Lock()
	src := c.source
	stacks := make([]*stack, 0, len(c.stacks))
	for _, s := range c.stacks {
		stacks = append(stacks, s)
	}
	c.mu.Unlock()
	out := Status{Host: c.o.Host, Env: c.o.Env, Running: true, Source: &src, Stacks: []StackStatus{}}
	for _, s := range stacks {
		s.mu.Lock()
		st, step := s.st, s.step
		s.mu.Unlock()
		if st.State != "" {
			ss := stackStatus(st)
			ss.Rollout = step
			out.Stacks = append(out.Stacks, ss)
		}
	}
	sortStacks(out.Stacks)
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

// Handler serves the status API:
//
//	GET /status               the Status as JSON
//	GET /history/STACK?limit=N  the stack's deploys, newest first
//	GET /healthz              200 while the controller runs
//	GET /metrics              Prometheus text format
//	POST /stacks/STACK/ACTION   retry, suspend, resume, or rollback[?to=COMMIT]
func (c *Controller) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /metrics", c.serveMetrics)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.Status())
	})
	mux.HandleFunc("POST /stacks/{stack}/{action}", func(w http.ResponseWriter, r *http.Request) {
		if !local(r) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "actions are only taken from this host (loopback, not through a proxy)"})
			return
		}
		st, err := c.Act(r.PathValue("stack"), r.PathValue("action"), r.URL.Query().Get("to"))
		if err != nil {
			code := http.StatusBadRequest
			if errors.Is(err, ErrUnknownStack) {
				code = http.StatusNotFound
			}
			writeJSON(w, code, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusAccepted, st)
	})
	mux.HandleFunc("GET /history/{stack}", func(w http.ResponseWriter, r *http.Request) {
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
	})
	return mux
}

// local reports whether a request comes from this host itself and not
// through a reverse proxy: the listen address must take the Git hosts'
// webhooks, but only a person on the host may roll a stack back.
func local(r *http.Request) bool {
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" || r.Header.Get("X-Real-Ip") != "" {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
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
