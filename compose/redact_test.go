package compose

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestRedactor(t *testing.T) {
	r := NewRedactor("hunter2-long", "abc", "line-one\nline-two")
	got := r.String(`pw hunter2-long, short abc, "line-one\nline-two", line-two alone`)
	want := `pw ********, short abc, "********", ******** alone`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// A value with a quote, a backslash, a tab or a non-ASCII letter, as
	// %q, %+q and JSON escape it.
	odd := "pa\"ss\\w\tö-rd"
	r = NewRedactor(odd)
	for _, format := range []string{"%q", "%+q", "%v"} {
		if got := r.String(fmt.Sprintf("body does not contain "+format, odd)); strings.Contains(got, "pa") {
			t.Errorf("%s shows the value: %s", format, got)
		}
	}
	if b, _ := json.Marshal(map[string]string{"error": odd}); strings.Contains(r.String(string(b)), "pa") {
		t.Errorf("JSON shows the value: %s", r.String(string(b)))
	}
	var none *Redactor
	if none.String("hunter2-long") != "hunter2-long" {
		t.Error("a nil Redactor changes text")
	}
}
