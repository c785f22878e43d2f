package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/berth-gitops/berth/controller"
)

// printWatch prints the host pressure and the scheduled journeys, when
// the controller watches them.
func printWatch(w io.Writer, st controller.Status) {
	if p := st.Pressure; p != nil && len(p.Readings) > 0 {
		label := "pressure:"
		for _, r := range p.Readings {
			fmt.Fprintf(w, "%-11s %s\n", label, pressureLine(r))
			label = ""
		}
		fmt.Fprintln(w)
	}
	if len(st.Journeys) == 0 {
		return
	}
	label := "journeys:"
	for _, j := range st.Journeys {
		state := "passing"
		switch {
		case j.Failing:
			state = fmt.Sprintf("FAILING (%d misses in a row)", j.Misses)
		case j.Misses > 0:
			state = fmt.Sprintf("%d misses in a row", j.Misses)
		case j.Runs == 0:
			state = "not run yet"
		}
		fmt.Fprintf(w, "%-11s %s every %s: %s\n", label, oneLine(j.Stack), j.Every, state)
		label = ""
	}
	fmt.Fprintln(w)
}

func pressureLine(r controller.PressureReading) string {
	what := strings.TrimSpace(r.Resource + " " + r.Path)
	switch {
	case r.Error != "":
		return what + ": " + oneLine(r.Error)
	case r.Resource == controller.ResourceLoad:
		return fmt.Sprintf("%s %.2f per CPU", what, r.Ratio)
	case r.Level != "" && r.Level != "ok":
		return fmt.Sprintf("%s %.1f%% %s", what, 100*r.Ratio, strings.ToUpper(r.Level))
	}
	return fmt.Sprintf("%s %.1f%%", what, 100*r.Ratio)
}
