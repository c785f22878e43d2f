package notify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestKindSeverity(t *testing.T) {
	want := map[Kind]Severity{
		DeployStarted: Info, DeploySucceeded: Info, DeployFailed: Warning, RolledBack: Warning, Stalled: Warning,
		Recovered: Info, RestartLoop: Critical, OOMKilled: Warning, Unhealthy: Warning, IncidentRecovered: Info,
		HostPressureWarning: Warning, HostPressureCritical: Critical, HostPressureRecovered: Info,
		JourneyFailing: Critical, JourneyRecovered: Info,
	}
	if len(Kinds()) != len(want) {
		t.Errorf("Kinds() = %v, want the %d kinds", Kinds(), len(want))
	}
	for _, k := range Kinds() {
		if got := k.Severity(); got != want[k] {
			t.Errorf("%s.Severity() = %s, want %s", k, got, want[k])
		}
		if _, err := ParseKind(string(k)); err != nil {
			t.Errorf("ParseKind(%q): %v", k, err)
		}
	}
	if got := Kind("disk_on_fire").Severity(); got != Warning {
		t.Errorf("an unknown kind's severity = %s, want warning", got)
	}
	if _, err := ParseKind("oom_kill"); err == nil || !strings.Contains(err.Error(), `"oom_kill" is not an event kind (deploy_started, `) {
		t.Errorf("ParseKind(oom_kill) error = %v", err)
	}
	for v, want := range map[string]Severity{"info": Info, "warning": Warning, "critical": Critical} {
		if got, err := ParseSeverity(v); err != nil || got != want || got.String() != v {
			t.Errorf("ParseSeverity(%q) = %s, %v", v, got, err)
		}
	}
	for _, bad := range []string{"", "error", "Warning"} {
		if _, err := ParseSeverity(bad); err == nil || !strings.Contains(err.Error(), "info, warning, critical") {
			t.Errorf("ParseSeverity(%q) error = %v", bad, err)
		}
	}
}

func TestRouteHears(t *testing.T) {
	ops := Route{Kinds: []Kind{OOMKilled, RestartLoop}, Stacks: []string{"shop-*"}, ExcludeStacks: []string{"*-staging"}, MinSeverity: Warning}
	for _, tc := range []struct {
		name  string
		route Route
		kind  Kind
		stack string
		want  bool
	}{
		{"zero route hears a deploy", Route{}, DeploySucceeded, "shop", true},
		{"zero route hears an unknown kind", Route{}, "disk_on_fire", "shop", true},
		{"kind listed", ops, OOMKilled, "shop-web", true},
		{"other kind listed", ops, RestartLoop, "shop-api", true},
		{"kind not listed", ops, DeployFailed, "shop-web", false},
		{"stack not matched", ops, OOMKilled, "blog", false},
		{"pattern matches the whole name", ops, OOMKilled, "my-shop-web", false},
		{"excluded stack", ops, OOMKilled, "shop-web-staging", false},
		{"exclusion wins without includes", Route{ExcludeStacks: []string{"lab"}}, DeployFailed, "lab", false},
		{"exact stack", Route{Stacks: []string{"blog"}}, DeployFailed, "blog", true},
		{"character class", Route{Stacks: []string{"shop-[ab]"}}, DeployFailed, "shop-b", true},
		{"below the least severity", Route{MinSeverity: Warning}, DeploySucceeded, "shop", false},
		{"at the least severity", Route{MinSeverity: Warning}, DeployFailed, "shop", true},
		{"critical only drops warnings", Route{MinSeverity: Critical}, OOMKilled, "shop", false},
		{"critical only hears critical", Route{MinSeverity: Critical}, RestartLoop, "shop", true},
		{"unknown kind counts as warning", Route{MinSeverity: Warning}, "disk_on_fire", "shop", true},
		{"a host event passes the stack patterns", Route{Stacks: []string{"shop-*"}}, HostPressureCritical, "", true},
		{"a host event still meets the kinds", Route{Stacks: []string{"shop-*"}, Kinds: []Kind{OOMKilled}}, HostPressureCritical, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.route.Hears(Event{Kind: tc.kind, Stack: tc.stack}); got != tc.want {
				t.Errorf("Hears(%s, %q) = %v, want %v", tc.kind, tc.stack, got, tc.want)
			}
		})
	}
}

func TestRouteCheck(t *testing.T) {
	for _, tc := range []struct {
		route Route
		want  string
	}{
		{Route{Stacks: []string{"shop-*", "blog"}, ExcludeStacks: []string{"*-staging"}}, ""},
		{Route{Stacks: []string{"shop-*", "shop-[a"}}, `stacks[1]: "shop-[a" is not a path.Match pattern`},
		{Route{ExcludeStacks: []string{""}}, `exclude_stacks[0]: "" is empty`},
		{Route{ExcludeStacks: []string{`a\`}}, `exclude_stacks[0]: "a\\" is not a path.Match pattern`},
	} {
		err := tc.route.Check()
		if (tc.want == "") != (err == nil) || (err != nil && err.Error() != tc.want) {
			t.Errorf("Check(%+v) = %v, want %q", tc.route, err, tc.want)
		}
	}
}

// The window lets one of each (kind, stack, subject) through per window,
// counts the repeats it drops, and reports them with the next one sent, or
// as expired when none comes.
func TestWindowAdmit(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	oom := Event{Kind: OOMKilled, Stack: "shop", Subject: "web"}
	type step struct {
		e       Event
		at      time.Duration
		send    bool
		dropped int
		expired string
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"first is sent", []step{{e: oom, send: true}}},
		{"repeat inside is dropped", []step{{e: oom, send: true}, {e: oom, at: 9 * time.Minute}}},
		{"repeat after the window is sent with the count", []step{
			{e: oom, send: true}, {e: oom, at: time.Minute}, {e: oom, at: 2 * time.Minute},
			{e: oom, at: 10 * time.Minute, send: true, dropped: 2},
			{e: oom, at: 11 * time.Minute},
		}},
		{"repeats do not stretch the window", []step{
			{e: oom, send: true}, {e: oom, at: 9 * time.Minute}, {e: oom, at: 10 * time.Minute, send: true, dropped: 1},
		}},
		{"another subject is another event", []step{
			{e: oom, send: true}, {e: Event{Kind: OOMKilled, Stack: "shop", Subject: "worker"}, send: true},
		}},
		{"another stack is another event", []step{{e: oom, send: true}, {e: Event{Kind: OOMKilled, Stack: "blog", Subject: "web"}, send: true}}},
		{"another kind is another event", []step{{e: oom, send: true}, {e: Event{Kind: RestartLoop, Stack: "shop", Subject: "web"}, send: true}}},
		{"the commit is the subject of deploy news", []step{
			{e: Event{Kind: DeployFailed, Stack: "shop", Commit: "aaa"}, send: true},
			{e: Event{Kind: DeployFailed, Stack: "shop", Commit: "aaa"}, at: time.Second},
			{e: Event{Kind: DeployFailed, Stack: "shop", Commit: "bbb"}, at: 2 * time.Second, send: true},
		}},
		{"an unreported count expires with a note", []step{
			{e: oom, send: true}, {e: oom, at: time.Minute},
			{e: Event{Kind: DeployStarted, Stack: "blog", Commit: "c"}, at: 20 * time.Minute, send: true, expired: "oom_killed shop web 1"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := window{length: 10 * time.Minute, seen: map[dedupeKey]*sighting{}}
			for i, s := range tc.steps {
				send, dropped, expired := w.admit(s.e, t0.Add(s.at))
				var exp []string
				for _, x := range expired {
					exp = append(exp, fmt.Sprintf("%s %s %s %d", x.key.kind, x.key.stack, x.key.subject, x.dropped))
				}
				if send != s.send || dropped != s.dropped || strings.Join(exp, ",") != s.expired {
					t.Errorf("step %d (%s at %v): send %v dropped %d expired %q, want %v %d %q",
						i, s.e.Kind, s.at, send, dropped, exp, s.send, s.dropped, s.expired)
				}
			}
		})
	}
}

// Each sink has its own window and route: a sink that did not hear an
// event does not count it, and the next message a sink sends says how
// many repeats it held back.
func TestRoutedNotifier(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	got := map[string][]string{}
	sink := func(name string) Sink {
		return &funcSink{name: name, send: func(_ context.Context, e Event) error {
			mu.Lock()
			got[name] = append(got[name], e.Text())
			mu.Unlock()
			return nil
		}}
	}
	n, logs := newNotifier(t, Options{
		Targets: []Target{
			{Name: "deploys", Sink: sink("deploys"), Route: Route{Kinds: []Kind{DeployStarted, DeploySucceeded, DeployFailed}}},
			{Name: "ops", Sink: sink("ops"), Route: Route{Stacks: []string{"shop*"}, MinSeverity: Warning}},
		},
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
	})
	oom := Event{Kind: OOMKilled, Host: "h", Stack: "shop", Subject: "web", Reason: "killed out of memory"}
	n.Notify(Event{Kind: DeployStarted, Host: "h", Stack: "shop", Commit: "abc"})
	n.Notify(oom)
	n.Notify(oom)
	n.Notify(oom)
	n.Notify(Event{Kind: OOMKilled, Host: "h", Stack: "blog", Subject: "web"})
	mu.Lock()
	now = now.Add(DefaultWindow)
	mu.Unlock()
	n.Notify(oom)
	closeNow(t, n)
	want := map[string][]string{
		"deploys": {"🚀 shop deploying on h: commit abc"},
		"ops": {"⚠️ shop/web was killed for lack of memory on h: web: killed out of memory",
			"⚠️ shop/web was killed for lack of memory on h: web: killed out of memory (2 repeats since the last message were not sent)"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sent %q\nwant %q", got, want)
	}
	if !strings.Contains(logs.String(), `msg="notification suppressed: sent already within the duplicate window" sink="ops (ops)" kind=oom_killed stack=shop subject=web`) {
		t.Errorf("the log does not name the dropped repeat:\n%s", logs)
	}
}

// Two services' OOM kills at one moment are two deliveries to a receiver
// that drops repeated IDs.
func TestDeliveryIDTellsSubjectsApart(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	web := Event{Kind: OOMKilled, Host: "h", Stack: "shop", Subject: "web", Time: at}
	worker := web
	worker.Subject = "worker"
	again := web
	if deliveryID(web) == deliveryID(worker) || deliveryID(web) != deliveryID(again) {
		t.Errorf("delivery IDs: web %s, worker %s", deliveryID(web), deliveryID(worker))
	}
}
