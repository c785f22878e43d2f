package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/compose"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// apply runs berth apply with a short stability window, as every rollout
// scenario does to stay quick.
func (s *stack) apply(want int) (stdout, stderr string) {
	s.t.Helper()
	out, errOut, code := s.berth("apply", "--settle", "1s")
	if code != want {
		s.t.Fatalf("berth apply: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, want, out, errOut)
	}
	return out, errOut
}

// logsOf returns everything a container wrote.
func (s *stack) logsOf(container string) string {
	s.t.Helper()
	res, err := s.cli.ContainerLogs(context.Background(), container, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, res); err != nil {
		s.t.Fatal(err)
	}
	return out.String()
}

// loadLine is a count line of `/app load`; images built by an older test
// program print no slow= and slowest=.
var loadLine = regexp.MustCompile(`(?m)^ok=(\d+) failed=(\d+)(?: slow=(\d+) slowest=(\d+)ms)? last=(.*)$`)

// loadCounts reads the last counts `/app load` printed, and the lines of
// its failed requests.
func loadCounts(logs string) (ok, failed int, failures []string) {
	ok, failed, _, _, failures = loadStats(logs)
	return ok, failed, failures
}

// loadStats is loadCounts with the number of slow requests (over 500 ms)
// and the slowest.
func loadStats(logs string) (ok, failed, slow int, slowest time.Duration, failures []string) {
	for _, m := range loadLine.FindAllStringSubmatch(logs, -1) {
		ok, _ = strconv.Atoi(m[1])
		f, _ := strconv.Atoi(m[2])
		slow, _ = strconv.Atoi(m[3])
		ms, _ := strconv.Atoi(m[4])
		slowest = time.Duration(ms) * time.Millisecond
		if f > failed {
			failures = append(failures, m[0])
		}
		failed = f
	}
	return ok, failed, slow, slowest, failures
}

// names lists the project's container names, sorted.
func (s *stack) names() []string {
	var out []string
	for name := range s.containers() {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// wantNames fails unless the project has exactly these containers.
func (s *stack) wantNames(names ...string) {
	s.t.Helper()
	sort.Strings(names)
	if got := s.names(); strings.Join(got, " ") != strings.Join(names, " ") {
		s.t.Fatalf("containers: %v\nwant %v", got, names)
	}
}

// get GETs a URL from inside a container of the stack.
func (s *stack) get(container, url string) string {
	s.t.Helper()
	return strings.TrimSpace(s.exec(container, "/app", "get", url))
}

// containerEvents returns the project's container events between two times.
func (s *stack) containerEvents(since, until time.Time) []events.Message {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := s.cli.Events(ctx, client.EventsListOptions{
		Since:   strconv.FormatInt(since.Unix(), 10),
		Until:   strconv.FormatInt(until.Unix()+1, 10),
		Filters: make(client.Filters).Add("type", "container").Add("label", compose.LabelProject+"="+s.project),
	})
	var out []events.Message
	for {
		select {
		case m := <-res.Messages:
			out = append(out, m)
		case err := <-res.Err:
			if err != nil && !errors.Is(err, io.EOF) {
				s.t.Fatal(err)
			}
			return out
		}
	}
}

// eventTime is when the first event with this action happened to a
// container, or 0.
func eventTime(ms []events.Message, id string, action events.Action) int64 {
	for _, m := range ms {
		if m.Actor.ID == id && m.Action == action {
			return m.TimeNano
		}
	}
	return 0
}

// waitFor polls cond every 100 ms until it holds or the time is up.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
