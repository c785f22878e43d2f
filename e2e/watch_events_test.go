package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/e2e/testenv"
)

// alertSink is a generic notification webhook receiver: it keeps every
// event it is sent, with its arrival time.
type alertSink struct {
	t       testing.TB
	srv     *httptest.Server
	mu      sync.Mutex
	got     []notify.Event
	arrived []time.Time
	raw     strings.Builder
	wake    chan struct{}
}

func newAlertSink(t testing.TB) *alertSink {
	a := &alertSink{t: t, wake: make(chan struct{}, 1)}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *alertSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	now := time.Now()
	var e notify.Event
	if err := json.Unmarshal(body, &e); err != nil {
		a.t.Errorf("notification body is not an event: %v", err)
	}
	a.mu.Lock()
	a.got, a.arrived = append(a.got, e), append(a.arrived, now)
	a.raw.Write(body)
	a.raw.WriteString("\n")
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *alertSink) text() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.raw.String()
}

// args are berth run's flags that send notifications here.
func (a *alertSink) args(t testing.TB) []string {
	secret := filepath.Join(t.TempDir(), "notify-secret")
	if err := os.WriteFile(secret, []byte("notify-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--notify-webhook-url", a.srv.URL + "/notify", "--notify-webhook-secret-file", secret}
}

// incidents are the events received about one service (no deploy events).
func (a *alertSink) incidents(service string) []notify.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []notify.Event
	for _, e := range a.got {
		if e.Service != "" && (service == "" || e.Service == service) {
			out = append(out, e)
		}
	}
	return out
}

// wait waits for the first event of kind about service and returns it
// with its arrival time.
func (a *alertSink) wait(service string, kind notify.Kind, timeout time.Duration) (notify.Event, time.Time) {
	a.t.Helper()
	return a.waitN(service, kind, 1, timeout)
}

// waitN waits for the nth event of kind about service.
func (a *alertSink) waitN(service string, kind notify.Kind, n int, timeout time.Duration) (notify.Event, time.Time) {
	a.t.Helper()
	deadline := time.After(timeout)
	for {
		a.mu.Lock()
		seen := 0
		for i, e := range a.got {
			if e.Service == service && e.Kind == kind {
				if seen++; seen == n {
					at := a.arrived[i]
					a.mu.Unlock()
					return e, at
				}
			}
		}
		a.mu.Unlock()
		select {
		case <-a.wake:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			a.mu.Lock()
			raw := a.raw.String()
			a.mu.Unlock()
			a.t.Fatalf("no %s alert for %s within %s; received:\n%s", kind, service, timeout, raw)
		}
	}
}

// kinds lists the kinds of a list of events, in order.
func kinds(es []notify.Event) string {
	var k []string
	for _, e := range es {
		if e.Kind == notify.IncidentRecovered {
			k = append(k, string(e.Kind)+"("+string(e.Of)+")")
			continue
		}
		k = append(k, string(e.Kind))
	}
	return strings.Join(k, " ")
}

// killAndWaitRestart crashes a container of a restart: always service
// (docker kill --signal USR1: the test image exits with EXIT_CODE) and
// waits until the engine's restart policy has started it again. A kill
// with SIGKILL or the stop signal would not do, nor any signal to a
// container without a stop_signal: the engine takes it as a stop and does
// not restart the container.
func killAndWaitRestart(t testing.TB, cli *client.Client, name string) {
	t.Helper()
	ctx := context.Background()
	before, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kill := func() {
		if _, err := cli.ContainerKill(ctx, name, client.ContainerKillOptions{Signal: "USR1"}); err != nil {
			t.Fatal(err)
		}
	}
	kill()
	killed := time.Now()
	deadline := killed.Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		st := c.Container.State
		switch {
		case err != nil:
		case st.Running && !st.Restarting && st.StartedAt != before.Container.State.StartedAt:
			return
		case st.Running && !st.Restarting && time.Since(killed) > time.Second:
			// A process that had not yet set up its handler ignores SIGUSR1
			// (Go's default): it still runs, the same run.
			kill()
			killed = time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not start again after it was killed", name)
}

// watchImage is the test program under a tag of these scenarios alone:
// they need its crash on SIGUSR1 and ALLOC_MB.
const watchImage = "berthtest/watch:1.0"

const loopCompose = `services:
  loop:
    image: berthtest/watch:1.0
    restart: always
    stop_signal: SIGTERM
    environment:
      VERSION: "@VERSION@"
      STDOUT_LINES: "4"
      EXIT_CODE: "3"
    x-berth:
      restart_alert: {count: 3, window: 8s}
`

const oomCompose = `services:
  hog:
    image: berthtest/watch:1.0
    restart: "no"
    mem_limit: 48m
    environment:
      ALLOC_MB: "256"
      ALLOC_AFTER: 4s
      STDOUT_LINES: "2"
`

const sickCompose = `services:
  sick:
    image: berthtest/watch:1.0
    environment:
      UNHEALTHY_AFTER: 6s
    healthcheck:
      test: ["CMD", "/app", "health"]
      interval: 500ms
      timeout: 2s
      retries: 1
`

// TestWatchEvents: berth run follows the engine's events. A service killed
// three times within its window raises one restart_loop alert naming the
// container and exit code and one recovery; a real OOM kill and a failing
// healthcheck raise theirs; a rollout replacing containers raises none.
func TestWatchEvents(t *testing.T) {
	in := newInfra(t)
	testenv.BuildImages(t, in.cli, watchImage)
	loop, hog, sick := in.project("loop"), in.project("oom"), in.project("sick")
	in.write("loop", "compose.yaml", strings.ReplaceAll(loopCompose, "@VERSION@", "one"))
	in.write("oom", "compose.yaml", oomCompose)
	in.write("sick", "compose.yaml", sickCompose)
	first := in.commit("three stacks to watch")
	sink := newAlertSink(t)
	run := in.startBerth("", sink.args(t)...)
	run.waitApplied(loop.project, first, 120*time.Second)

	t.Log("killing the loop service three times: one restart_loop alert")
	name := loop.name("loop", 1)
	for range 3 {
		killAndWaitRestart(t, in.cli, name)
	}
	e, _ := sink.wait("loop", notify.RestartLoop, 30*time.Second)
	if e.Stack != loop.project || e.Container != name || e.ExitCode == nil || *e.ExitCode != 3 || e.Count != 3 || e.Window != "8s" {
		t.Errorf("restart_loop alert = %+v, want stack %s, container %s, exit 3, 3 restarts in 8s", e, loop.project, name)
	}
	if e.LogLines == nil || *e.LogLines < 4 {
		t.Errorf("restart_loop alert counts %v log lines, want the 4 the app printed and more", e.LogLines)
	}
	rec, _ := sink.wait("loop", notify.IncidentRecovered, 60*time.Second)
	if rec.ID != e.ID || rec.Of != notify.RestartLoop {
		t.Errorf("recovery = %+v, want the restart loop %s", rec, e.ID)
	}
	if got := kinds(sink.incidents("loop")); got != "restart_loop incident_recovered(restart_loop)" {
		t.Errorf("loop incidents: %s, want one alert then one recovery", got)
	}
	st := run.stackState(loop.project)
	if len(st.Services) != 1 || st.Services[0].Restarts != 3 || len(st.Services[0].ExitCodes) != 3 {
		t.Errorf("status of %s: services %+v, want 3 restarts and their exit codes", loop.project, st.Services)
	}

	t.Log("a real OOM kill: oom_killed")
	o, _ := sink.wait("hog", notify.OOMKilled, 90*time.Second)
	if o.Stack != hog.project || o.Container != hog.name("hog", 1) || o.ExitCode == nil || *o.ExitCode != 137 {
		t.Errorf("oom_killed alert = %+v, want container %s, exit 137", o, hog.name("hog", 1))
	}

	metrics := httpGet(t, "http://"+run.addr+"/metrics")
	for _, series := range []string{
		`berth_container_restarts_total{service="loop",stack="` + loop.project + `"} 3`,
		`berth_container_oom_kills_total{service="hog",stack="` + hog.project + `"} `,
	} {
		if !strings.Contains(metrics, series) {
			t.Errorf("metrics lack %s", series)
		}
	}

	t.Log("a failing healthcheck: unhealthy")
	u, _ := sink.wait("sick", notify.Unhealthy, 90*time.Second)
	if u.Stack != sick.project || u.Container != sick.name("sick", 1) {
		t.Errorf("unhealthy alert = %+v, want container %s", u, sick.name("sick", 1))
	}

	t.Log("a rollout whose new container turns unhealthy and is rolled back: no alert")
	before := len(sink.incidents("loop"))
	in.write("loop", "compose.yaml", strings.Replace(strings.ReplaceAll(loopCompose, "@VERSION@", "two"),
		"      STDOUT_LINES: \"4\"\n", "      STDOUT_LINES: \"4\"\n      HEALTHY: \"false\"\n", 1)+`    healthcheck:
      test: ["CMD", "/app", "health"]
      interval: 500ms
      retries: 1
`)
	in.commit("loop: a version that never turns healthy")
	run.waitFor("the loop stack rolled back", 120*time.Second, func() bool {
		return run.stackState(loop.project).State == controller.StateRolledBack
	})
	// What the rollout did came through the stream before these kills:
	// the next incident must be theirs.
	for range 3 {
		killAndWaitRestart(t, in.cli, name)
	}
	sink.waitN("loop", notify.RestartLoop, 2, 30*time.Second)
	after := sink.incidents("loop")[before:]
	if len(after) == 0 || after[0].Kind != notify.RestartLoop || after[0].ID == e.ID {
		t.Errorf("after the rollout, loop incidents: %s, want a new restart_loop from the kills first", kinds(after))
	}

	t.Log("a bad restart_alert stalls the commit, naming the key, and leaves the stack as it was")
	live := loop.containers()[name].ID
	in.write("loop", "compose.yaml", strings.Replace(strings.ReplaceAll(loopCompose, "@VERSION@", "three"),
		"{count: 3, window: 8s}", "{count: 3, window: soon}", 1))
	bad := in.commit("loop: a bad restart alert")
	run.waitFor("the bad commit stalls", 60*time.Second, func() bool {
		s := run.stackState(loop.project)
		return s.State == controller.StateStalled && s.Attempted == bad
	})
	if msg := run.stackState(loop.project).Error; !strings.Contains(msg, `service "loop": x-berth.restart_alert.window: "soon" is not a duration`) {
		t.Errorf("stall error = %q, want the service and the key", msg)
	}
	if got := loop.containers()[name].ID; got != live {
		t.Errorf("the stalled commit replaced %s", name)
	}
	if strings.Contains(sink.text(), "log line 1 of") {
		t.Error("a container's log line reached a notification")
	}
}

// unixProxy forwards a Unix socket to the engine's, and can be cut (every
// connection closed, nothing accepted) and restored.
type unixProxy struct {
	t      testing.TB
	path   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newUnixProxy(t testing.TB) *unixProxy {
	target := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		target = strings.TrimPrefix(h, "unix://")
	} else if h != "" {
		t.Skipf("DOCKER_HOST %s is not a Unix socket", h)
	}
	dir, err := os.MkdirTemp("", "berth-proxy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &unixProxy{t: t, path: filepath.Join(dir, "docker.sock"), target: target, conns: map[net.Conn]bool{}}
	p.restore()
	t.Cleanup(p.cut)
	return p
}

func (p *unixProxy) restore() {
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
}

func (p *unixProxy) serve(c net.Conn) {
	up, err := net.Dial("unix", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// cut closes the listener and every connection through it.
func (p *unixProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
	os.Remove(p.path)
}

// TestWatchEventsResume: the event stream is cut while a service restarts
// in a loop; once it is back, berth reads the events it missed and sends
// the restart_loop alert once.
func TestWatchEventsResume(t *testing.T) {
	in := newInfra(t)
	testenv.BuildImages(t, in.cli, watchImage)
	loop := in.project("loop")
	in.write("loop", "compose.yaml", strings.ReplaceAll(loopCompose, "@VERSION@", "one"))
	first := in.commit("a stack to watch")
	sink := newAlertSink(t)
	proxy := newUnixProxy(t)
	t.Setenv("DOCKER_HOST", "unix://"+proxy.path)
	run := in.startBerth("", sink.args(t)...)
	run.waitApplied(loop.project, first, 120*time.Second)
	name := loop.name("loop", 1)
	killAndWaitRestart(t, in.cli, name) // seen live: the stream works

	t.Log("cutting the engine's socket, then killing the container twice")
	proxy.cut()
	for range 2 {
		killAndWaitRestart(t, in.cli, name)
	}
	if n := len(sink.incidents("loop")); n != 0 {
		t.Fatalf("%d alerts while the stream was cut", n)
	}
	proxy.restore()
	e, _ := sink.wait("loop", notify.RestartLoop, 60*time.Second)
	if e.Container != name || e.Count != 3 {
		t.Errorf("restart_loop alert = %+v, want 3 restarts of %s", e, name)
	}
	sink.wait("loop", notify.IncidentRecovered, 60*time.Second)
	if got := kinds(sink.incidents("loop")); got != "restart_loop incident_recovered(restart_loop)" {
		t.Errorf("loop incidents: %s, want one alert (no duplicate from the replay) then one recovery", got)
	}
	if !run.logHas("engine event stream broken: resuming from the last event") {
		t.Error("berth did not log the broken stream")
	}
}

// waitRestarted waits until the container runs a run started after
// startedBefore.
func waitRestarted(t testing.TB, cli *client.Client, name, startedBefore string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := cli.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
		if err == nil && c.Container.State.Running && !c.Container.State.Restarting && c.Container.State.StartedAt != startedBefore {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not start again after it was killed", name)
}
