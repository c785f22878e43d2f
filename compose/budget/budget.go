// Package budget bounds the YAML and the files a commit controls before any
// decoder sees them. A YAML file is walked once at the node level, with
// aliases left as they are, to learn what decoding it would cost: its
// bytes, its documents, its nodes after every alias and merge key is
// expanded, and its nesting depth after expansion. Each alias target's cost
// is computed once, so the check is linear in the file however much the
// aliases would multiply it. A file over a budget is refused with an error
// naming the file and the budget, never its content.
package budget

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// YAML is what one YAML file may cost a decoder.
type YAML struct {
	// Bytes bounds the file's size.
	Bytes int64
	// Documents bounds the documents of the stream.
	Documents int
	// Nodes bounds the nodes of all documents after alias expansion.
	Nodes int64
	// Depth bounds the nesting of collections after alias expansion.
	Depth int
}

// The budgets berth applies. A compose file is one document; a sops file
// or a settings file may hold a few.
var (
	Compose = YAML{Bytes: 1 << 20, Documents: 1, Nodes: 100_000, Depth: 100}
	Data    = YAML{Bytes: 1 << 20, Documents: 16, Nodes: 100_000, Depth: 100}
)

// Error is a file over a budget. It names the file and the budget only.
type Error struct {
	File   string // the file as the caller names it
	Budget string // "bytes", "documents", "expanded nodes", "depth", ...
	Limit  int64
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s is over the budget of %d %s", e.File, e.Limit, e.Budget)
}

// IsError reports whether err is, or wraps, a budget refusal.
func IsError(err error) bool {
	var be *Error
	return errors.As(err, &be)
}

// Check refuses data, the content of the YAML file name, when decoding it
// would cost more than b. A stream that does not parse is refused too, with
// the parser's message (which quotes no content beyond a token).
func Check(name string, data []byte, b YAML) error {
	if int64(len(data)) > b.Bytes {
		return &Error{File: name, Budget: "bytes", Limit: b.Bytes}
	}
	w := walker{name: name, b: b, memo: map[*yaml.Node]cost{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for docs := 0; ; docs++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("failed to parse %s: %w", name, err)
		}
		if docs+1 > b.Documents {
			return &Error{File: name, Budget: "documents", Limit: int64(b.Documents)}
		}
		c, err := w.cost(&n)
		if err != nil {
			return err
		}
		if w.nodes += c.nodes; w.nodes > b.Nodes {
			return w.over("expanded nodes", b.Nodes)
		}
	}
}

// cost is what one node expands to: its node count and its depth.
type cost struct {
	nodes int64
	depth int
}

type walker struct {
	name  string
	b     YAML
	nodes int64 // of the documents already walked
	memo  map[*yaml.Node]cost
	open  map[*yaml.Node]bool // alias targets being walked: a cycle
}

func (w *walker) over(budget string, limit int64) error {
	return &Error{File: w.name, Budget: budget, Limit: limit}
}

// cost walks n once; an alias costs what its target costs, computed once
// per target.
func (w *walker) cost(n *yaml.Node) (cost, error) {
	if n == nil {
		return cost{}, nil
	}
	if n.Kind == yaml.AliasNode {
		return w.target(n.Alias)
	}
	if c, ok := w.memo[n]; ok {
		return c, nil
	}
	c := cost{nodes: 1}
	if n.Anchor != "" {
		if w.open == nil {
			w.open = map[*yaml.Node]bool{}
		}
		w.open[n] = true
		defer delete(w.open, n)
	}
	for _, child := range n.Content {
		cc, err := w.cost(child)
		if err != nil {
			return cost{}, err
		}
		c.nodes += cc.nodes
		c.depth = max(c.depth, cc.depth)
		if w.nodes+c.nodes > w.b.Nodes {
			return cost{}, w.over("expanded nodes", w.b.Nodes)
		}
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		c.depth++
		if c.depth > w.b.Depth {
			return cost{}, w.over("depth", int64(w.b.Depth))
		}
	}
	if n.Anchor != "" {
		w.memo[n] = c
	}
	return c, nil
}

// target is the cost of an alias's target; an alias inside its own target
// would expand forever.
func (w *walker) target(n *yaml.Node) (cost, error) {
	if n == nil {
		return cost{}, nil
	}
	if w.open[n] {
		return cost{}, fmt.Errorf("%s: an alias refers to a node that contains it", w.name)
	}
	return w.cost(n)
}
