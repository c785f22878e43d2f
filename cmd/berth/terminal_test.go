package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
)

// hostile are an author and a message that retitle and clear a terminal
// that prints them raw, and forge a line of their own.
const (
	hostileAuthor  = "mallory \x1b]0;pwned\x07"
	hostileMessage = "fix\x1b[2J\nberth: all stacks in sync\u009b31m\x7f"
)

// assertTerminalSafe fails when out holds a control character other than
// a line break or a tab, or a C1 control.
func assertTerminalSafe(t *testing.T, where, out string) {
	t.Helper()
	for _, r := range out {
		if (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) {
			t.Fatalf("%s prints control character %U raw:\n%q", where, r, out)
		}
	}
	if strings.Contains(out, "\nberth: all stacks in sync") {
		t.Fatalf("%s lets a commit message forge a line:\n%s", where, out)
	}
	if !strings.Contains(out, `\u001b]0;pwned\u0007`) {
		t.Fatalf("%s should show the escape sequence as text:\n%s", where, out)
	}
}

func TestHistoryEscapesControls(t *testing.T) {
	var buf bytes.Buffer
	d := store.Deploy{ID: 1, Commit: "0123456789abcdef", Author: hostileAuthor, Message: hostileMessage,
		Start: time.Now(), End: time.Now(), Outcome: "failed", Error: "service \"web\": probe gate failed\x1b[2J\nsecond line",
		Operations: []string{"create web-1\x1b[1A"}}
	printHistory(termWriter{w: &buf}, "shop", []store.Deploy{d})
	assertTerminalSafe(t, "history", buf.String())
	if !strings.Contains(buf.String(), "second line") || strings.Contains(buf.String(), `\u001b[2J\n`) {
		t.Fatalf("an error's line break should stay a line break:\n%s", buf.String())
	}
}

func TestStatusEscapesControls(t *testing.T) {
	var buf bytes.Buffer
	head := &gitsource.Commit{Hash: "0123456789abcdef", Author: hostileAuthor, Message: hostileMessage}
	st := controller.Status{Running: true, Source: &controller.SourceStatus{URL: "https://git.example/infra", Ref: "main", Head: head},
		Stacks: []controller.StackStatus{{StackState: store.StackState{Stack: "shop", State: "stalled", Error: "load: bad\x1b]0;pwned\x07 line"}}}}
	printStatus(termWriter{w: &buf}, st)
	assertTerminalSafe(t, "status", buf.String())
}

// JSON output stays JSON: the escapes that reach it are JSON's own.
func TestJSONThroughTerminalWriter(t *testing.T) {
	var buf bytes.Buffer
	if err := printJSON(termWriter{w: &buf}, store.Deploy{Author: hostileAuthor, Message: hostileMessage}); err != nil {
		t.Fatal(err)
	}
	var back store.Deploy
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("JSON output no longer parses: %v\n%s", err, buf.String())
	}
	if back.Author != hostileAuthor || back.Message != hostileMessage {
		t.Fatalf("JSON output changed the values: %q %q", back.Author, back.Message)
	}
	for _, r := range buf.String() {
		if (r < 0x20 && r != '\n') || (r >= 0x7f && r <= 0x9f) {
			t.Fatalf("JSON output holds control character %U raw", r)
		}
	}
}
