package controller

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/controller/notify"
	"github.com/berth-gitops/berth/controller/reconcile"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
)

// TestStackTextsAreRedacted: a value the stack's loads read is stripped
// from whatever the stack writes (status, history, notifications, the log
// in both formats), however the text reached it.
func TestStackTextsAreRedacted(t *testing.T) {
	const value = "canary-value-51c0de"
	db, err := store.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var text, js bytes.Buffer
	var events []notify.Event
	logger := slog.New(slog.NewTextHandler(&text, nil))
	c := &Controller{o: Options{Store: db, Host: "h", Notify: func(e notify.Event) { events = append(events, e) }},
		log: logger, metrics: newMetrics(), stacks: map[string]*stack{}}
	s := c.newStack(store.StackState{Stack: "shop"})
	s.red.Add(value)
	jsonLog := s.red.Logger(slog.New(slog.NewJSONHandler(&js, nil))).With("stack", "shop", "at", "x "+value)

	err = errors.New(`engine: invalid env "DB_PASSWORD=` + value + `"`)
	head := gitsource.Commit{Hash: "0123456789abcdef0123456789abcdef01234567", Author: "a", Message: "m"}
	s.settle(head, func(o *outcome) { s.failed(o, []string{"create web-1 with " + value}, err) })
	s.settle(head, func(o *outcome) { s.fault(o, reconcile.Stalling(err)) })
	s.log.Warn("reason "+value, "err", err, "group", slog.GroupValue(slog.String("v", value)))
	jsonLog.Error("deploy failed", "error", err)

	h, herr := db.History("shop", 10)
	if herr != nil {
		t.Fatal(herr)
	}
	st := s.state()
	outputs := map[string]string{"status": st.Error, "log (text)": text.String(), "log (json)": js.String()}
	for _, d := range h {
		outputs["history"] += d.Error + strings.Join(d.Operations, "\n")
	}
	for _, e := range events {
		outputs["notifications"] += e.Reason
	}
	for where, out := range outputs {
		if out == "" {
			t.Errorf("%s is empty: nothing was checked", where)
		}
		if strings.Contains(out, value) {
			t.Errorf("%s shows the value:\n%s", where, out)
		}
	}
	if !strings.Contains(st.Error, `DB_PASSWORD=********`) {
		t.Errorf("status should keep the text around the value: %q", st.Error)
	}
}
