package load

import "github.com/berth-gitops/berth/compose/budget"

// Budgets of a stack's compose files (see docs/stack-files.md). compose-go
// reads an included or extended file again each time the graph reaches it,
// so the graph is counted as it walks it, every path again: a graph whose
// levels each include the next level twice grows exponentially and is
// refused at its first reads past MaxComposeReads.
const (
	// MaxIncludeDepth bounds nested include and extends.
	MaxIncludeDepth = 20
	// MaxComposeReads bounds the compose files one load reads, counting a
	// file again each time include or extends reaches it.
	MaxComposeReads = 200
)

// composeBudget is what each compose file may cost to decode.
var composeBudget = budget.Compose

// includeGraph counts the walk of the include and extends graph.
type includeGraph struct {
	open  map[string]bool // the files on the current path, for cycles
	depth int
	reads int
}

// enter steps into a file: it returns the step back, or nil with the
// refusal (nil as well for a cycle, which compose-go reports).
func (g *includeGraph) enter(key, name string) (func(), error) {
	if g.open[key] {
		return nil, nil
	}
	g.reads++
	if g.reads > MaxComposeReads {
		return nil, &budget.Error{File: name, Budget: "compose files read through include and extends", Limit: MaxComposeReads}
	}
	if g.depth >= MaxIncludeDepth {
		return nil, &budget.Error{File: name, Budget: "levels of include and extends", Limit: MaxIncludeDepth}
	}
	if g.open == nil {
		g.open = map[string]bool{}
	}
	g.open[key] = true
	g.depth++
	return func() { delete(g.open, key); g.depth-- }, nil
}
