package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRolloutStartFirst: web (two replicas, reached through its service
// name) rolls start-first while a client on the stack's network sends a
// request every 50 ms: no request fails.
func TestRolloutStartFirst(t *testing.T) {
	s := newStack(t, ".")
	s.apply(0)
	client := s.name("client", 1)
	waitFor(t, 10*time.Second, "client requests", func() bool {
		ok, _, _ := loadCounts(s.logsOf(client))
		return ok >= 10
	})
	before := s.containers()

	s.edit("compose.yaml", "  web:\n    image: berthtest/app:1.0", "  web:\n    image: berthtest/app:1.1")
	start := time.Now()
	out, _ := s.apply(0)
	took := time.Since(start)
	if strings.Count(out, "start-first") < 2 {
		t.Errorf("web did not roll start-first:\n%s", out)
	}
	time.Sleep(500 * time.Millisecond) // requests after the last replacement count too

	ok, failed, slow, slowest, failures := loadStats(s.logsOf(client))
	t.Logf("start-first rollout of 2 replicas in %.1fs: %d requests ok, %d failed, %d slower than 500ms, slowest %s", took.Seconds(), ok, failed, slow, slowest)
	if failed != 0 {
		t.Errorf("%d request(s) failed during the rollout:\n%s", failed, strings.Join(failures, "\n"))
	}
	if ok < 50 {
		t.Errorf("only %d requests succeeded: the client was not running through the rollout", ok)
	}
	ok, failed, slow, slowest, failures = loadStats(s.logsOf(s.name("pooled", 1)))
	t.Logf("keep-alive client: %d requests ok, %d failed, %d slower than 500ms, slowest %s", ok, failed, slow, slowest)
	if failed != 0 {
		t.Errorf("%d request(s) of the keep-alive client failed during the rollout:\n%s", failed, strings.Join(failures, "\n"))
	}
	after := s.containers()
	if after[client].ID != before[client].ID {
		t.Error("the client was recreated")
	}
	for n := 1; n <= 2; n++ {
		name := s.name("web", n)
		if after[name].ID == before[name].ID || after[name].Image != "berthtest/app:1.1" || after[name].State != "running" {
			t.Errorf("%s not rolled to 1.1: %+v", name, after[name])
		}
	}
	s.wantNames(s.name("web", 1), s.name("web", 2), client, s.name("pooled", 1))
	if v := s.get(client, "http://web:8080/version"); v != "1.1" {
		t.Errorf("web serves %q", v)
	}
	s.mustBerth(0, "plan")
}

// TestRolloutStopFirst: a service that publishes a host port rolls
// stop-first: the old container is stopped before the new one starts, and
// the port answers with the new version afterwards.
func TestRolloutStopFirst(t *testing.T) {
	s := newStack(t, ".")
	port := freePort(t)
	s.write(".env", fmt.Sprintf("WEB_PORT=%d\n", port))
	s.apply(0)
	old := s.containers()[s.name("web", 1)]

	s.edit("compose.yaml", "image: berthtest/app:1.0", "image: berthtest/app:1.1")
	since := time.Now()
	out, _ := s.apply(0)
	if !strings.Contains(out, "stop-first") {
		t.Errorf("web did not roll stop-first:\n%s", out)
	}
	cur := s.containers()[s.name("web", 1)]
	if cur.ID == old.ID || cur.Image != "berthtest/app:1.1" {
		t.Fatalf("web not rolled: %+v", cur)
	}
	ev := s.containerEvents(since, time.Now())
	died, started := eventTime(ev, old.ID, "die"), eventTime(ev, cur.ID, "start")
	if died == 0 || started == 0 || died > started {
		t.Errorf("old died at %d, new started at %d: want the old one stopped first", died, started)
	}
	t.Logf("stop-first: %.0f ms between the old container's exit and the new one's start", float64(started-died)/1e6)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/version", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(body)) != "1.1" {
		t.Errorf("port %d serves %q", port, body)
	}
	s.wantNames(s.name("web", 1))
}
