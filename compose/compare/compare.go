package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-gitops/berth/compose"
	"github.com/compose-spec/compose-go/v2/types"
)

// Comparing two versions of a stack's files is the review aid for a pull
// request: it says what a deploy of head would change, per service, without
// an engine. Environment values never enter the result, only their names:
// the output is meant for CI logs and pull request comments.

// StackStatus is how a stack changes between two versions.
type StackStatus string

// The statuses of a stack.
const (
	StackAdded     StackStatus = "added"
	StackRemoved   StackStatus = "removed"
	StackChanged   StackStatus = "changed"
	StackUnchanged StackStatus = "unchanged"
)

// ServiceChange is how a service changes.
type ServiceChange string

// The changes of a service.
const (
	ServiceAdded   ServiceChange = "added"
	ServiceRemoved ServiceChange = "removed"
	ServiceChanged ServiceChange = "changed"
)

// StackDiff is what changes in one stack between two versions of its files.
type StackDiff struct {
	// Stack names the stack; CompareProjects sets it to the project name,
	// a caller that knows the stack's folder may name it after that.
	Stack   string      `json:"stack"`
	Project string      `json:"project"`
	Status  StackStatus `json:"status"`
	// RenamedFrom is the old project name when `name:` changed: the stack
	// becomes a new project and every container is created anew.
	RenamedFrom string `json:"renamed_from,omitempty"`
	// ServiceCount is the number of services at head, or at base for a
	// removed stack.
	ServiceCount int `json:"service_count"`
	// Services are the services that change, sorted by name.
	Services []ServiceDiff `json:"services,omitempty"`
	// Networks and Volumes are the project's top-level resources, by the
	// names the engine knows them by.
	Networks SetDiff `json:"networks,omitzero"`
	Volumes  SetDiff `json:"volumes,omitzero"`
}

// ServiceDiff is what changes in one service. Added and removed services
// carry only their image and replicas.
type ServiceDiff struct {
	Name   string         `json:"name"`
	Change ServiceChange  `json:"change"`
	Image  *Delta[string] `json:"image,omitempty"`
	// Environment holds variable names only, never values.
	Environment SetDiff `json:"environment,omitzero"`
	// Ports and Volumes are rendered like the compose short syntax, bind
	// sources relative to the stack folder; a change shows as removed+added.
	Ports    SetDiff     `json:"ports,omitzero"`
	Volumes  SetDiff     `json:"volumes,omitzero"`
	Networks SetDiff     `json:"networks,omitzero"`
	Replicas *Delta[int] `json:"replicas,omitempty"`
	// Fields names every other changed field: each one the config hash
	// covers, then build, pull_policy, depends_on and x-* extensions, which
	// it does not.
	Fields []string `json:"fields,omitempty"`
	// Recreate says whether the service's containers would be replaced: its
	// config hash differs, the engine names of its networks or volumes
	// differ, or it shares a namespace with a service that is recreated.
	Recreate bool `json:"recreate"`
	// RecreatedWith names the recreated services whose containers this one
	// points at (network_mode, ipc, pid service:X, volumes_from).
	RecreatedWith []string `json:"recreated_with,omitempty"`
}

// Delta is a value before and after.
type Delta[T comparable] struct {
	From T `json:"from"`
	To   T `json:"to"`
}

// SetDiff lists the members of a named collection that were added, removed
// or changed, each sorted.
type SetDiff struct {
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Changed []string `json:"changed,omitempty"`
}

// Empty reports whether nothing changed.
func (d SetDiff) Empty() bool { return len(d.Added)+len(d.Removed)+len(d.Changed) == 0 }

// Changed reports whether the stack changes at all.
func (d StackDiff) Changed() bool { return d.Status != StackUnchanged }

// CompareProjects compares two loaded versions of a stack; a nil base is a
// stack being added, a nil head one being removed. Load both from folders at
// the same absolute path, or every bind mount and hash differs.
func CompareProjects(base, head *types.Project) StackDiff {
	switch {
	case base == nil && head == nil:
		return StackDiff{Status: StackUnchanged}
	case base == nil:
		return wholeStack(head, StackAdded, ServiceAdded)
	case head == nil:
		return wholeStack(base, StackRemoved, ServiceRemoved)
	}
	d := StackDiff{Stack: head.Name, Project: head.Name, Status: StackUnchanged, ServiceCount: len(head.Services)}
	if base.Name != head.Name {
		d.RenamedFrom = base.Name
	}
	d.Services = compareServices(base, head)
	d.Networks = compareResources(byEngineName(base.Networks, networkName), byEngineName(head.Networks, networkName), compose.NetworkHash)
	d.Volumes = compareResources(byEngineName(base.Volumes, volumeName), byEngineName(head.Volumes, volumeName), compose.VolumeHash)
	if d.RenamedFrom != "" || len(d.Services) > 0 || !d.Networks.Empty() || !d.Volumes.Empty() {
		d.Status = StackChanged
	}
	return d
}

// wholeStack lists every service of a stack that appears or disappears.
func wholeStack(p *types.Project, status StackStatus, change ServiceChange) StackDiff {
	d := StackDiff{Stack: p.Name, Project: p.Name, Status: status, ServiceCount: len(p.Services)}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		d.Services = append(d.Services, wholeService(p.Services[name], change))
	}
	keys := func(names []string) SetDiff {
		if change == ServiceAdded {
			return SetDiff{Added: names}
		}
		return SetDiff{Removed: names}
	}
	d.Networks = keys(nilIfEmpty(slices.Sorted(maps.Keys(byEngineName(p.Networks, networkName)))))
	d.Volumes = keys(nilIfEmpty(slices.Sorted(maps.Keys(byEngineName(p.Volumes, volumeName)))))
	return d
}

func wholeService(s types.ServiceConfig, change ServiceChange) ServiceDiff {
	sd := ServiceDiff{Name: s.Name, Change: change}
	if change == ServiceAdded {
		sd.Image = &Delta[string]{To: s.Image}
		sd.Replicas = &Delta[int]{To: compose.Replicas(s)}
	} else {
		sd.Image = &Delta[string]{From: s.Image}
		sd.Replicas = &Delta[int]{From: compose.Replicas(s)}
	}
	return sd
}

// compareServices diffs the services present on both sides and lists those
// added and removed, then marks the services recreated along with a peer.
func compareServices(base, head *types.Project) []ServiceDiff {
	byName := map[string]*ServiceDiff{}
	for name, s := range head.Services {
		old, ok := base.Services[name]
		if !ok {
			sd := wholeService(s, ServiceAdded)
			byName[name] = &sd
			continue
		}
		sd := compareService(base, head, old, s)
		byName[name] = &sd
	}
	for name, s := range base.Services {
		if _, ok := head.Services[name]; !ok {
			sd := wholeService(s, ServiceRemoved)
			byName[name] = &sd
		}
	}
	followPeers(head, byName)
	var out []ServiceDiff
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		if sd := byName[name]; sd.Change != ServiceChanged || !sd.empty() {
			out = append(out, *sd)
		}
	}
	return out
}

// followPeers marks a service recreated when a service whose container it
// points at is, since compose hashes the peer's container ID into its
// config; repeated until nothing more changes, for chains of references.
func followPeers(head *types.Project, byName map[string]*ServiceDiff) {
	for changed := true; changed; {
		changed = false
		for _, name := range slices.Sorted(maps.Keys(head.Services)) {
			sd := byName[name]
			if sd.Change != ServiceChanged {
				continue
			}
			for _, ref := range compose.ServiceRefs(head.Services[name]) {
				peer, ok := byName[ref]
				if !ok || !peer.Recreate || slices.Contains(sd.RecreatedWith, ref) {
					continue
				}
				sd.Recreate = true
				sd.RecreatedWith = append(sd.RecreatedWith, ref)
				changed = true
			}
		}
	}
}

// compareService diffs one service present on both sides.
func compareService(base, head *types.Project, old, cur types.ServiceConfig) ServiceDiff {
	sd := ServiceDiff{Name: cur.Name, Change: ServiceChanged}
	if old.Image != cur.Image {
		sd.Image = &Delta[string]{From: old.Image, To: cur.Image}
	}
	sd.Environment = compareEnv(old.Environment, cur.Environment)
	sd.Ports = compareLists(renderAll(old.Ports, portString), renderAll(cur.Ports, portString))
	sd.Volumes = compareLists(mountStrings(old.Volumes, base.WorkingDir), mountStrings(cur.Volumes, head.WorkingDir))
	sd.Networks = compareMaps(old.Networks, cur.Networks)
	if r0, r1 := compose.Replicas(old), compose.Replicas(cur); r0 != r1 {
		sd.Replicas = &Delta[int]{From: r0, To: r1}
	}
	shown := map[string]bool{
		"image": sd.Image != nil, "environment": !sd.Environment.Empty(), "ports": !sd.Ports.Empty(),
		"volumes": !sd.Volumes.Empty(), "networks": !sd.Networks.Empty(),
	}
	for _, f := range compose.ChangedFields(fieldsOf(old), fieldsOf(cur)) {
		if !shown[f] {
			sd.Fields = append(sd.Fields, f)
		}
	}
	sd.Fields = append(sd.Fields, unhashedChanges(old, cur)...)
	dOld, errOld := compose.NewDesiredService(base, old)
	dCur, errCur := compose.NewDesiredService(head, cur)
	sd.Recreate = errOld != nil || errCur != nil || dOld.Hash != dCur.Hash ||
		!slices.Equal(dOld.Networks, dCur.Networks) || !slices.Equal(dOld.Volumes, dCur.Volumes) ||
		base.Name != head.Name
	if sd.Recreate && sd.explained() == 0 && base.Name == head.Name {
		// Something the hash covers changed that none of the above names,
		// such as the engine name of a network; say so rather than nothing.
		sd.Fields = append(sd.Fields, "config")
	}
	return sd
}

func (sd *ServiceDiff) explained() int {
	n := len(sd.Fields)
	for _, d := range []SetDiff{sd.Environment, sd.Ports, sd.Volumes, sd.Networks} {
		if !d.Empty() {
			n++
		}
	}
	if sd.Image != nil {
		n++
	}
	return n
}

func (sd *ServiceDiff) empty() bool {
	return sd.explained() == 0 && sd.Replicas == nil && !sd.Recreate
}

// fieldsOf is fieldHashes without an error: a service that cannot be
// encoded has no fields to name, and compareService reports it as "config".
func fieldsOf(s types.ServiceConfig) map[string]string {
	f, err := compose.FieldHashes(s)
	if err != nil {
		return nil
	}
	return f
}

// unhashedChanges names the changed fields that the config hash leaves out
// but a reviewer still wants to see: how the image is built or pulled, the
// start order, and berth's own x-* settings.
func unhashedChanges(old, cur types.ServiceConfig) []string {
	var out []string
	for _, f := range []struct {
		name string
		a, b any
	}{
		{"build", old.Build, cur.Build},
		{"pull_policy", old.PullPolicy, cur.PullPolicy},
		{"depends_on", old.DependsOn, cur.DependsOn},
	} {
		if !sameJSON(f.a, f.b) {
			out = append(out, f.name)
		}
	}
	ext := compareMaps(old.Extensions, cur.Extensions)
	names := slices.Concat(ext.Added, ext.Removed, ext.Changed)
	sort.Strings(names)
	return append(out, names...)
}

// compareEnv names the variables added, removed or given another value.
func compareEnv(old, cur types.MappingWithEquals) SetDiff {
	var d SetDiff
	for k, v := range cur {
		ov, ok := old[k]
		switch {
		case !ok:
			d.Added = append(d.Added, k)
		case (ov == nil) != (v == nil) || (v != nil && *ov != *v):
			d.Changed = append(d.Changed, k)
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			d.Removed = append(d.Removed, k)
		}
	}
	return d.sorted()
}

// compareMaps diffs two maps by key, a key changed when its value's JSON
// encoding differs.
func compareMaps[V any](old, cur map[string]V) SetDiff {
	var d SetDiff
	for k, v := range cur {
		ov, ok := old[k]
		switch {
		case !ok:
			d.Added = append(d.Added, k)
		case !sameJSON(ov, v):
			d.Changed = append(d.Changed, k)
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			d.Removed = append(d.Removed, k)
		}
	}
	return d.sorted()
}

// byEngineName re-keys a project's networks or volumes by the name the
// engine knows them by: what a host has is what a reviewer must weigh, and a
// project rename shows as new resources rather than changed ones.
func byEngineName[V any](m map[string]V, name func(V) string) map[string]V {
	out := make(map[string]V, len(m))
	for _, v := range m {
		out[name(v)] = v
	}
	return out
}

func networkName(n types.NetworkConfig) string { return n.Name }
func volumeName(v types.VolumeConfig) string   { return v.Name }

// compareResources diffs top-level networks or volumes by engine name:
// changed means the config hash berth and compose label them with differs,
// which apply refuses to resolve by itself.
func compareResources[V any](old, cur map[string]V, hash func(V) (string, error)) SetDiff {
	var d SetDiff
	for k, v := range cur {
		ov, ok := old[k]
		if !ok {
			d.Added = append(d.Added, k)
			continue
		}
		h0, err0 := hash(ov)
		h1, err1 := hash(v)
		if err0 != nil || err1 != nil || h0 != h1 {
			d.Changed = append(d.Changed, k)
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			d.Removed = append(d.Removed, k)
		}
	}
	return d.sorted()
}

// compareLists diffs two lists as multisets; order alone is no change here
// and, where it matters to the hash, shows up under Fields.
func compareLists(old, cur []string) SetDiff {
	count := map[string]int{}
	for _, s := range old {
		count[s]--
	}
	for _, s := range cur {
		count[s]++
	}
	var d SetDiff
	for s, n := range count {
		for ; n > 0; n-- {
			d.Added = append(d.Added, s)
		}
		for ; n < 0; n++ {
			d.Removed = append(d.Removed, s)
		}
	}
	return d.sorted()
}

func (d SetDiff) sorted() SetDiff {
	sort.Strings(d.Added)
	sort.Strings(d.Removed)
	sort.Strings(d.Changed)
	return d
}

func renderAll[T any](items []T, render func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = render(it)
	}
	return out
}

// portString renders a port like the short syntax: [ip:]published:target/proto.
func portString(p types.ServicePortConfig) string {
	proto := p.Protocol
	if proto == "" {
		proto = "tcp"
	}
	s := strconv.FormatUint(uint64(p.Target), 10) + "/" + proto
	if p.Published != "" {
		s = p.Published + ":" + s
	}
	if p.HostIP != "" {
		ip := p.HostIP
		if strings.Contains(ip, ":") {
			ip = "[" + ip + "]"
		}
		s = ip + ":" + s
	}
	return s
}

// mountStrings renders mounts like the short syntax, a bind source inside
// the stack folder relative to it so that the text does not depend on where
// the folder was loaded from.
func mountStrings(vols []types.ServiceVolumeConfig, workDir string) []string {
	return renderAll(vols, func(v types.ServiceVolumeConfig) string {
		src := v.Source
		if v.Type == types.VolumeTypeBind && workDir != "" {
			if rel, err := filepath.Rel(workDir, src); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
				src = "./" + filepath.ToSlash(rel)
			}
		}
		s := v.Target
		if src != "" {
			s = src + ":" + s
		}
		if v.Type != types.VolumeTypeBind && v.Type != types.VolumeTypeVolume {
			s = v.Type + ":" + s
		}
		if v.ReadOnly {
			s += ":ro"
		}
		return s
	})
}

func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// String renders the difference for a person, one line per changed service.
func (d StackDiff) String() string {
	var b strings.Builder
	switch d.Status {
	case StackUnchanged:
		fmt.Fprintf(&b, "stack %s: unchanged\n", d.Stack)
		return b.String()
	case StackAdded, StackRemoved:
		fmt.Fprintf(&b, "stack %s: %s (%s)\n", d.Stack, d.Status, plural(d.ServiceCount, "service"))
		return b.String()
	}
	fmt.Fprintf(&b, "stack %s (%s changed)\n", d.Stack, plural(len(d.Services), "service"))
	if d.RenamedFrom != "" {
		fmt.Fprintf(&b, "  project name %s → %s: a new project, every container is created anew\n", d.RenamedFrom, d.Project)
	}
	width := 0
	for _, s := range d.Services {
		width = max(width, len(s.Name))
	}
	for _, s := range d.Services {
		fmt.Fprintf(&b, "  %s %-*s  %s\n", s.mark(), width, s.Name, s.summary())
	}
	resourceLine(&b, "network", d.Networks, "berth does not replace a network in place")
	resourceLine(&b, "volume", d.Volumes, "berth never replaces a volume")
	return b.String()
}

func resourceLine(b *strings.Builder, kind string, d SetDiff, changedNote string) {
	if d.Empty() {
		return
	}
	fmt.Fprintf(b, "  %ss %s", kind, signed(d))
	if len(d.Changed) > 0 {
		fmt.Fprintf(b, " (definition changed: %s)", changedNote)
	}
	b.WriteString("\n")
}

func (s ServiceDiff) mark() string {
	switch s.Change {
	case ServiceAdded:
		return "+"
	case ServiceRemoved:
		return "-"
	}
	return "~"
}

// summary is the rest of a service's line: what changed, "; "-separated.
func (s ServiceDiff) summary() string {
	switch s.Change {
	case ServiceAdded:
		return fmt.Sprintf("(new service) image %s, %s", s.Image.To, plural(s.Replicas.To, "replica"))
	case ServiceRemoved:
		return "(removed)"
	}
	var parts []string
	if s.Image != nil {
		parts = append(parts, fmt.Sprintf("image %s → %s", s.Image.From, s.Image.To))
	}
	for _, f := range []struct {
		name string
		d    SetDiff
	}{{"env", s.Environment}, {"ports", s.Ports}, {"volumes", s.Volumes}, {"networks", s.Networks}} {
		if !f.d.Empty() {
			parts = append(parts, f.name+" "+signed(f.d))
		}
	}
	if s.Replicas != nil {
		parts = append(parts, fmt.Sprintf("replicas %d → %d", s.Replicas.From, s.Replicas.To))
	}
	if len(s.Fields) > 0 {
		parts = append(parts, "changed "+strings.Join(s.Fields, ", "))
	}
	switch {
	case len(s.RecreatedWith) > 0:
		parts = append(parts, "recreate (with "+strings.Join(s.RecreatedWith, ", ")+")")
	case s.Recreate:
		parts = append(parts, "recreate")
	}
	return strings.Join(parts, "; ")
}

// signed renders a SetDiff as "+added -removed ~changed".
func signed(d SetDiff) string {
	var parts []string
	for _, g := range []struct {
		sign  string
		names []string
	}{{"+", d.Added}, {"-", d.Removed}, {"~", d.Changed}} {
		for _, n := range g.names {
			parts = append(parts, g.sign+n)
		}
	}
	return strings.Join(parts, " ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
