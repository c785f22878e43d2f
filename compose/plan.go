package compose

import (
	"encoding/json"
	"fmt"
	"strings"
)

// OpKind is what an operation does.
type OpKind string

// The operations a plan is made of.
const (
	OpPull          OpKind = "pull"           // pull a missing image
	OpCreateNetwork OpKind = "create-network" // create a project network
	OpCreateVolume  OpKind = "create-volume"  // create a named volume
	OpCreate        OpKind = "create"         // create and start a missing container
	OpRecreate      OpKind = "recreate"       // replace a container whose config diverged
	OpStart         OpKind = "start"          // start a stopped container
	OpRemove        OpKind = "remove"         // stop and remove a container no longer wanted
)

// Op is one step of a plan, with the reason it is needed.
type Op struct {
	Kind    OpKind `json:"op"`
	Service string `json:"service,omitempty"`
	// Number is the container number (replica) the op is about.
	Number int `json:"number,omitempty"`
	// Container is the live container's name, or the one to create.
	Container   string `json:"container,omitempty"`
	ContainerID string `json:"container_id,omitempty"`
	// Resource is the image, network or volume the op is about.
	Resource string `json:"resource,omitempty"`
	Cause    string `json:"cause"`
	// PrevState is the live container's state before the op ("running",
	// "exited"), so that a failed replacement or removal can put it back as
	// it was.
	PrevState string `json:"-"`
}

// Plan is the ordered list of operations that makes a live project equal to
// its desired state. An empty plan means the project is in sync.
type Plan struct {
	Project  string   `json:"project"`
	Ops      []Op     `json:"operations"`
	Warnings []string `json:"warnings,omitempty"`
}

// InSync reports whether there is nothing to do.
func (p Plan) InSync() bool { return len(p.Ops) == 0 }

// String renders the plan grouped by service, one operation a line, in the
// order the operations run within each group.
func (p Plan) String() string {
	if p.InSync() {
		return fmt.Sprintf("project %s is in sync\n", p.Project)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "project %s: %d operation(s)\n", p.Project, len(p.Ops))
	group := func(title string, ops []Op) {
		if len(ops) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s\n", title)
		for _, op := range ops {
			fmt.Fprintf(&b, "  %s\n", op.line())
		}
	}
	var project []Op
	byService := map[string][]Op{}
	var services []string
	for _, op := range p.Ops {
		if op.Service == "" {
			project = append(project, op)
			continue
		}
		if _, seen := byService[op.Service]; !seen {
			services = append(services, op.Service)
		}
		byService[op.Service] = append(byService[op.Service], op)
	}
	group("project:", project)
	for _, s := range services {
		group("service "+s+":", byService[s])
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

func (op Op) line() string {
	return fmt.Sprintf("%-8s %s (%s)", op.Kind, op.Target(), op.Cause)
}

// JSON renders the plan for machines.
func (p Plan) JSON() ([]byte, error) {
	if p.Ops == nil {
		p.Ops = []Op{}
	}
	return json.MarshalIndent(p, "", "  ")
}

// Describe renders one operation for progress output.
func (op Op) Describe() string {
	if op.Service != "" {
		return fmt.Sprintf("%s: %s", op.Service, op.line())
	}
	return op.line()
}

// Target is the container the op is about, or else its resource.
func (op Op) Target() string {
	if op.Container != "" {
		return op.Container
	}
	return op.Resource
}
