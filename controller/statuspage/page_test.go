package statuspage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/controller/watch"
	"github.com/berth-gitops/berth/gitsource"
)

// canary is a value that must never reach the page: it stands for an
// environment value, a log line, a probe body or a Git credential.
const canary = "CANARY-must-never-show-8f3a"

var now = time.Date(2026, 12, 7, 22, 0, 0, 0, time.UTC)

const (
	shopLive = "1111111111111111111111111111111111111111"
	shopHead = "2222222222222222222222222222222222222222"
	blogLive = "3333333333333333333333333333333333333333"
)

// sample is a status with a stack in sync with a restart-looping service,
// one that failed, one deploying, a failing journey and host pressure; the
// canary sits in every field the page must leave out.
func sample() controller.Status {
	return controller.Status{
		Host: "vps-1", Env: "production", Running: true,
		Source: &controller.SourceStatus{URL: "https://deployer:" + canary + "@git.example.com/infra.git", Ref: "branch main",
			Head:      &gitsource.Commit{Hash: shopHead, Author: "Ann", Email: canary + "@example.com", Message: "shop: bump to 1.1\n\n" + canary},
			LastFetch: now.Add(-40 * time.Second), Error: "fetch: " + canary, Failures: 3},
		Listener: &controller.ListenerStatus{Addr: "127.0.0.1:9300", Listening: true},
		Pressure: &controller.PressureStatus{Checks: 4, Time: now, Readings: []controller.PressureReading{
			{Resource: controller.ResourceDisk, Path: "/var/lib/docker", Ratio: 0.962, Level: "critical"},
			{Resource: controller.ResourceMemory, Ratio: 0.41, Level: "ok"},
			{Resource: controller.ResourceInodes, Path: "/var/lib/docker", Error: "statfs: " + canary},
			{Resource: controller.ResourceLoad, Ratio: 0.35},
		}},
		Journeys: []controller.JourneyStatus{
			{Stack: "blog", Commit: blogLive, Every: time.Minute, Runs: 9, Misses: 3, Failing: true},
			{Stack: "shop", Commit: shopLive, Every: time.Minute, Runs: 9},
		},
		Stacks: []controller.StackStatus{
			{StackState: store.StackState{Stack: "blog", State: controller.StateFailed, Applied: blogLive, Failed: shopHead,
				Error: "verify: GET /health answered 500\n" + canary, Since: now.Add(-5 * time.Minute)}},
			{StackState: store.StackState{Stack: "shop", State: controller.StateInSync, Applied: shopLive, Head: shopHead, Since: now.Add(-3 * time.Hour)},
				Services: []watch.ServiceSummary{
					{Service: "web", Restarts: 9, RestartsDay: 7, ExitCodes: []int{137}, Health: "unhealthy", Incidents: []notify.Kind{notify.RestartLoop}},
					{Service: "worker", Health: "healthy"},
				}},
			{StackState: store.StackState{Stack: "wiki", State: controller.StateDeploying, Since: now.Add(-2 * time.Second)}},
		},
	}
}

func sampleHistory(stack string, limit int) ([]store.Deploy, error) {
	var h []store.Deploy
	switch stack {
	case "shop":
		for i := range 8 {
			h = append(h, store.Deploy{ID: uint64(10 - i), Stack: "shop", Commit: shopLive, Author: canary,
				Message: fmt.Sprintf("shop: change %d\n\nbody %s", i, canary), Start: now.Add(-time.Duration(i+1) * time.Hour),
				End: now.Add(-time.Duration(i+1)*time.Hour + 4200*time.Millisecond), Outcome: "succeeded",
				Error: canary, Operations: []string{"recreate web " + canary}, Warnings: []string{canary}})
		}
	case "blog":
		h = []store.Deploy{{ID: 2, Stack: "blog", Commit: shopHead, Message: "blog: new theme", Start: now.Add(-5 * time.Minute),
			End: now.Add(-4 * time.Minute), Outcome: "rolled back", Error: "verify: " + canary}}
	case "wiki":
		return nil, errors.New("bolt: " + canary)
	}
	return h[:min(limit, len(h))], nil
}

func render(t testing.TB, st controller.Status) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, Build(st, sampleHistory, now, nil)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// card is the HTML of one stack's card.
func card(t *testing.T, page, stack string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `id="stack-`+stack+`"`)
	if !ok {
		t.Fatalf("no card for stack %s in:\n%s", stack, page)
	}
	c, _, _ := strings.Cut(rest, "</article>")
	return c
}

func TestRender(t *testing.T) {
	page := render(t, sample())
	for _, want := range []string{
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<meta http-equiv="refresh" content="30">`,
		`<link rel="stylesheet" href="/static/page.css">`,
		`berth <span class="host">vps-1</span> <span class="env">production</span>`,
		`branch main at <code>222222222222</code>`,
		`last good fetch <span class="warning" id="last-fetch">40s ago</span> (failing)`,
		`<span class="badge warning">warning</span> the Git source failed 3 times in a row (berth status tells why)`,
		`<span class="badge critical">critical</span> host pressure: disk /var/lib/docker at 96.2%`,
		`<span class="badge warning">warning</span> host pressure: inodes /var/lib/docker unreadable`,
		`<span class="badge critical">critical</span> blog: journey failing (3 misses in a row)`,
		`<span class="badge critical">critical</span> blog: failed`,
		`<span class="badge critical">critical</span> shop/web: restart loop`,
		`<span class="what">load</span> <span class="value">0.35 per CPU</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "shop: journey") {
		t.Error("a passing journey is listed as an alert")
	}

	shop := card(t, page, "shop")
	for _, want := range []string{
		`data-state="in sync" data-commit="111111111111"`,
		`<span class="badge ok state">in sync</span>`,
		`<code>111111111111</code> shop: change 0</p>`, // the live commit's subject, from the history
		`since 3h ago · head <code>222222222222</code>`,
		`<tr class="critical"><td>web</td><td>unhealthy</td><td>7</td><td><span class="badge critical">restart loop</span> </td></tr>`,
		`<tr class="ok"><td>worker</td><td>healthy</td><td>0</td>`,
		`<span class="outcome ok">succeeded</span> <span class="took">4.2s</span>`,
	} {
		if !strings.Contains(shop, want) {
			t.Errorf("shop's card lacks %s:\n%s", want, shop)
		}
	}
	if n := strings.Count(shop, "<li>"); n != Deploys {
		t.Errorf("shop's card lists %d deploys, want the last %d", n, Deploys)
	}
	if !strings.Contains(shop, "shop: change 4") || strings.Contains(shop, "shop: change 5") {
		t.Error("shop's card does not list exactly its 5 newest deploys")
	}

	blog := card(t, page, "blog")
	for _, want := range []string{
		`<span class="badge critical state">failed</span>`,
		`<p class="note">222222222222 failed, not retried by itself; verify: GET /health answered 500</p>`,
		`<span class="outcome warning">rolled back</span> <span class="took">1m0s</span>`,
	} {
		if !strings.Contains(blog, want) {
			t.Errorf("blog's card lacks %s:\n%s", want, blog)
		}
	}
	wiki := card(t, page, "wiki")
	if !strings.Contains(wiki, `<span class="badge busy state">deploying</span>`) || !strings.Contains(wiki, "nothing live yet") ||
		!strings.Contains(wiki, "history unreadable") {
		t.Errorf("wiki's card:\n%s", wiki)
	}
	if strings.Index(page, `id="stack-blog"`) > strings.Index(page, `id="stack-shop"`) {
		t.Error("stacks are not in the status's order")
	}
}

// Nothing the page must leave out reaches it: the Git URL's credential,
// the commit author's email and message body, the history's errors,
// operations, warnings and authors, a pressure reading's error, the lines
// of a stack's error after its first.
func TestRenderHidesValues(t *testing.T) {
	page := render(t, sample())
	if strings.Contains(page, canary) {
		i := strings.Index(page, canary)
		t.Fatalf("the page shows the canary: …%s…", page[max(0, i-200):i+len(canary)])
	}
}

// Markup in a stack's name or a commit message is shown as text.
func TestRenderEscapes(t *testing.T) {
	st := sample()
	st.Stacks[1].Error = `<script>alert(1)</script>`
	st.Stacks[1].State = controller.StateStalled
	page := render(t, st)
	if strings.Contains(page, "<script>") {
		t.Fatal("markup from a stack's error reached the page unescaped")
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the escaped error is missing")
	}
}

func TestRenderEmpty(t *testing.T) {
	page := render(t, controller.Status{Running: true, Stacks: []controller.StackStatus{}})
	for _, want := range []string{"No alerts.", "No stacks deployed yet."} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, `id="pressure"`) {
		t.Error("a page without the pressure watch shows a Host section")
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler(Options{Status: sample, History: sampleHistory, Now: func() time.Time { return now }}))
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, string(body)
	}
	res, body := get("/")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(body, `id="stack-shop"`) {
		t.Fatalf("GET / = %s %q", res.Status, res.Header.Get("Content-Type"))
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	res, body = get("/static/page.css")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, ".stack") {
		t.Errorf("GET /static/page.css = %s %q", res.Status, res.Header.Get("Content-Type"))
	}
	for _, path := range []string{"/status", "/static/../page.go", "/page.html"} {
		if res, _ := get(path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %s, want 404", path, res.Status)
		}
	}
}

func BenchmarkStatusPage100(b *testing.B) {
	st := controller.Status{Host: "vps-1", Running: true, Source: sample().Source, Pressure: sample().Pressure}
	for i := range 100 {
		st.Stacks = append(st.Stacks, controller.StackStatus{
			StackState: store.StackState{Stack: fmt.Sprintf("stack-%03d", i), State: controller.StateInSync, Applied: shopLive, Since: now.Add(-time.Hour)},
			Services:   []watch.ServiceSummary{{Service: "web", Health: "healthy", Restarts: i % 3, RestartsDay: i % 2}, {Service: "worker"}, {Service: "db", Health: "healthy"}}})
	}
	hist := make([]store.Deploy, Deploys)
	for i := range hist {
		hist[i] = store.Deploy{Commit: shopLive, Message: "stack: change the thing", Start: now.Add(-time.Hour), End: now.Add(-time.Hour + 3*time.Second), Outcome: "succeeded"}
	}
	history := func(string, int) ([]store.Deploy, error) { return hist, nil }
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := Render(&buf, Build(st, history, now, nil)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}
