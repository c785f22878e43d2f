package notify

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// TestHostAlertsBySubject: host pressure alerts of one kind about two
// resources are both sent (they differ by subject), the same one twice is
// not, and their title names the host without a stack.
func TestHostAlertsBySubject(t *testing.T) {
	var mu sync.Mutex
	var got []Event
	s := &funcSink{send: func(_ context.Context, e Event) error {
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
		return nil
	}}
	n, _ := newNotifier(t, Options{Sinks: []Sink{s}})
	disk := Event{Kind: HostPressureWarning, Host: "vps-1", Subject: "disk /var/lib/docker", Reason: "91.0% in use (warning at 90%, critical at 95%)"}
	mem := disk
	mem.Subject = "memory"
	n.Notify(disk)
	n.Notify(mem)
	n.Notify(disk)
	closeNow(t, n)
	if len(got) != 2 {
		t.Fatalf("sent %d events, want 2: %+v", len(got), got)
	}
	if title := got[0].Title(); title != "⚠️ host pressure warning on vps-1" {
		t.Errorf("title %q", title)
	}
	if text := got[0].Text(); !strings.Contains(text, "disk /var/lib/docker: 91.0% in use") {
		t.Errorf("text %q", text)
	}
	j := Event{Kind: JourneyFailing, Host: "vps-1", Stack: "shop", Subject: "GET http://web/health"}
	if title := j.Title(); title != "🔥 shop journey failing on vps-1" {
		t.Errorf("journey title %q", title)
	}
}
