package lint

import "testing"

func TestLintFormats(t *testing.T) {
	f := Finding{
		Rule: RuleFloatingTag, Severity: SeverityError, Stack: "shop", Service: "web",
		File: "stacks/shop/compose.yaml", Line: 12, Message: `service "web": image nginx:latest uses a floating tag; pin a version`,
	}
	want := `stacks/shop/compose.yaml:12: error [floating-tag] service "web": image nginx:latest uses a floating tag; pin a version`
	if got := f.String(); got != want {
		t.Errorf("String:\n got %s\nwant %s", got, want)
	}
	want = `::error file=stacks/shop/compose.yaml,line=12,title=floating-tag::service "web": image nginx:latest uses a floating tag; pin a version`
	if got := f.GitHub(); got != want {
		t.Errorf("GitHub:\n got %s\nwant %s", got, want)
	}

	odd := Finding{Rule: RuleLoad, Severity: SeverityError, File: "stacks/a,b:c/compose.yaml", Message: "100% broken\r\nline two\n"}
	want = `::error file=stacks/a%2Cb%3Ac/compose.yaml,title=load::100%25 broken%0D%0Aline two%0A`
	if got := odd.GitHub(); got != want {
		t.Errorf("GitHub escaping:\n got %s\nwant %s", got, want)
	}
	if got, want := odd.String(), "stacks/a,b:c/compose.yaml: error [load] 100% broken line two "; got != want {
		t.Errorf("String keeps one line:\n got %q\nwant %q", got, want)
	}

	for sev, level := range map[Severity]string{SeverityWarning: "::warning ", SeverityInfo: "::notice "} {
		g := Finding{Rule: "r", Severity: sev, Message: "m"}.GitHub()
		if g[:len(level)] != level {
			t.Errorf("%s: %s", sev, g)
		}
	}
	ex := f
	ex.Excepted = "reviewed, 50%"
	want = `::notice file=stacks/shop/compose.yaml,line=12,title=floating-tag (excepted)::service "web": image nginx:latest uses a floating tag; pin a version (excepted: reviewed, 50%25)`
	if got := ex.GitHub(); got != want {
		t.Errorf("excepted GitHub:\n got %s\nwant %s", got, want)
	}

	if got, want := Summarize([]Finding{f, f, {Severity: SeverityWarning}, {Severity: SeverityInfo}, ex}).String(), "2 errors, 1 warning, 1 info, 1 excepted"; got != want {
		t.Errorf("Summary %q, want %q", got, want)
	}
}
