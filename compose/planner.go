package compose

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// ContainerName is the name of a service's container number n, as docker
// compose names it.
func ContainerName(project string, s DesiredService, n int) string {
	if s.ContainerName != "" {
		return s.ContainerName
	}
	return project + "-" + s.Name + "-" + strconv.Itoa(n)
}

// BuildPlan is the pure difference between the desired and the live state.
// It recreates a container when its config hash, its image ID, or one of its
// networks or volumes differs, as docker compose does; it never removes a
// volume. A network or volume whose definition changed since it was created
// is an error: replacing it is a decision for a person.
func BuildPlan(d *Desired, live *Live) (Plan, error) {
	pl := Plan{Project: d.Project}
	if err := planResources(d, live, &pl); err != nil {
		return Plan{}, err
	}
	wanted := map[string]bool{}
	for _, s := range d.Services {
		wanted[s.Name] = true
	}
	for _, c := range live.Containers {
		if !wanted[c.Service] {
			pl.Ops = append(pl.Ops, Op{Kind: OpRemove, Service: c.Service, Number: c.Number, Container: c.Name, ContainerID: c.ID, Cause: "orphan service", PrevState: c.State})
		}
	}
	recreated := map[string]bool{}
	for _, s := range d.Services {
		peer := ""
		for _, r := range s.Refs {
			if recreated[r] {
				peer = r
				break
			}
		}
		ops := planService(d, s, live, peer)
		for _, op := range ops {
			if op.Kind == OpRecreate || op.Kind == OpCreate {
				recreated[s.Name] = true
			}
		}
		pl.Ops = append(pl.Ops, ops...)
	}
	return pl, nil
}

// planResources adds pulls for missing images and creations for missing
// networks and volumes, and refuses diverged definitions.
func planResources(d *Desired, live *Live, pl *Plan) error {
	pulled := map[string]bool{}
	for _, s := range d.Services {
		if s.Image == "" || pulled[s.Image] || s.Replicas == 0 {
			continue
		}
		present := live.Images[s.Image] != ""
		switch {
		case s.PullPolicy == types.PullPolicyNever && !present:
			return fmt.Errorf("service %q: image %s is not present and its pull_policy is never: load or build it on this host first", s.Name, s.Image)
		case s.PullPolicy == types.PullPolicyNever:
		case s.PullPolicy == types.PullPolicyAlways:
			pulled[s.Image] = true
			pl.Ops = append(pl.Ops, Op{Kind: OpPull, Service: s.Name, Resource: s.Image, Cause: "pull_policy: always"})
		case !present:
			pulled[s.Image] = true
			pl.Ops = append(pl.Ops, Op{Kind: OpPull, Service: s.Name, Resource: s.Image, Cause: "image not present"})
		}
	}
	for _, n := range d.Networks {
		ln, ok := live.Networks[n.Name]
		switch {
		case n.External && !ok:
			return fmt.Errorf("network %s is declared external but does not exist: create it first (docker network create %s)", n.Name, n.Name)
		case n.External:
		case !ok:
			pl.Ops = append(pl.Ops, Op{Kind: OpCreateNetwork, Resource: n.Name, Cause: "network missing"})
		case ln.Labels[LabelProject] == "":
			pl.Warnings = append(pl.Warnings, fmt.Sprintf("network %s exists but was not created by compose or berth; set `external: true` to use it on purpose", n.Name))
		case ln.Labels[LabelNetwork] != n.Key:
			return fmt.Errorf("network %s exists with label %s=%q, expected %q: it belongs to something else; rename the network in the compose file", n.Name, LabelNetwork, ln.Labels[LabelNetwork], n.Key)
		case ln.Labels[LabelConfigHash] != "" && ln.Labels[LabelConfigHash] != n.Hash:
			return fmt.Errorf("network %s: its definition changed since it was created; berth does not replace networks in place: stop the project's containers, remove the network (docker network rm %s), then apply again", n.Name, n.Name)
		}
	}
	for _, v := range d.Volumes {
		lv, ok := live.Volumes[v.Name]
		switch {
		case v.External && !ok:
			return fmt.Errorf("volume %s is declared external but does not exist: create it first (docker volume create %s)", v.Name, v.Name)
		case v.External:
		case !ok:
			pl.Ops = append(pl.Ops, Op{Kind: OpCreateVolume, Resource: v.Name, Cause: "volume missing"})
		case lv.Labels[LabelProject] == "":
			pl.Warnings = append(pl.Warnings, fmt.Sprintf("volume %s exists but was not created by compose or berth; set `external: true` to use it on purpose", v.Name))
		case lv.Labels[LabelConfigHash] != "" && lv.Labels[LabelConfigHash] != v.Hash:
			return fmt.Errorf("volume %s: its definition changed since it was created; berth never removes a volume: back up its data, remove it by hand (docker volume rm %s) or restore the old definition, then apply again", v.Name, v.Name)
		}
	}
	return nil
}

// planService compares a service's containers with what it wants. When
// several containers claim one number (a rollout cut short leaves the old
// one renamed aside, or a new one under a temporary name), the one with the
// canonical name and the wanted hash is kept and the others are removed.
func planService(d *Desired, s DesiredService, live *Live, peerRecreated string) []Op {
	var ops []Op
	byNumber := map[int][]LiveContainer{}
	var extra []LiveContainer
	for _, c := range live.Containers {
		if c.Service != s.Name {
			continue
		}
		if c.Number < 1 || c.Number > s.Replicas {
			extra = append(extra, c)
			continue
		}
		byNumber[c.Number] = append(byNumber[c.Number], c)
	}
	hash := liveHash(s, live)
	for n := 1; n <= s.Replicas; n++ {
		name := ContainerName(d.Project, s, n)
		cands := byNumber[n]
		if len(cands) == 0 {
			cause := "container missing"
			if n > 1 {
				cause = fmt.Sprintf("scale to %d", s.Replicas)
			}
			ops = append(ops, Op{Kind: OpCreate, Service: s.Name, Number: n, Container: name, Cause: cause})
			continue
		}
		keep := keeper(cands, name, hash)
		c := cands[keep]
		for i, o := range cands {
			if i != keep {
				extra = append(extra, o)
			}
		}
		cause := recreateCause(s, c, live, peerRecreated)
		if cause == "" && c.Name != name {
			cause = fmt.Sprintf("named %s, not %s: left by an interrupted rollout", c.Name, name)
		}
		if cause != "" {
			ops = append(ops, Op{Kind: OpRecreate, Service: s.Name, Number: n, Container: c.Name, ContainerID: c.ID, Cause: cause, PrevState: c.State})
			continue
		}
		if c.State != "running" && c.State != "restarting" && !finished(s, c) {
			ops = append(ops, Op{Kind: OpStart, Service: s.Name, Number: n, Container: c.Name, ContainerID: c.ID, Cause: c.State})
		}
	}
	sort.SliceStable(extra, func(i, j int) bool { return extra[i].Number > extra[j].Number })
	for _, c := range extra {
		cause := fmt.Sprintf("scale to %d", s.Replicas)
		switch {
		case IsAside(c.Name):
			cause = "set aside by an interrupted rollout"
		case c.Number >= 1 && c.Number <= s.Replicas:
			cause = "duplicate container number"
		}
		ops = append(ops, Op{Kind: OpRemove, Service: s.Name, Number: c.Number, Container: c.Name, ContainerID: c.ID, Cause: cause, PrevState: c.State})
	}
	return ops
}

// keeper picks, among containers with one number, the one to keep: the
// canonical name and the wanted hash, else the canonical name, else the
// wanted hash, else one not set aside, else the first.
func keeper(cands []LiveContainer, name, hash string) int {
	best, bestScore := 0, -1
	for i, c := range cands {
		score := 0
		if c.Name == name {
			score += 4
		}
		if c.Hash == hash {
			score += 2
		}
		if !IsAside(c.Name) {
			score++
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

// recreateCause says why a container must be replaced, or "" when it need not.
func recreateCause(s DesiredService, c LiveContainer, live *Live, peerRecreated string) string {
	if peerRecreated != "" {
		return fmt.Sprintf("uses a container of %s, which is recreated", peerRecreated)
	}
	if c.Hash != liveHash(s, live) {
		return configCause(s, c)
	}
	if id := live.Images[s.Image]; id != "" && c.ImageID != "" && c.ImageID != id {
		return fmt.Sprintf("image %s now %s, was %s", s.Image, ShortID(id), ShortID(c.ImageID))
	}
	for _, n := range s.Networks {
		ln, ok := live.Networks[n]
		if !ok {
			return fmt.Sprintf("network %s missing", n)
		}
		if c.State == "running" && c.Networks[n] != ln.ID {
			return fmt.Sprintf("not connected to network %s", n)
		}
	}
	for _, v := range s.Volumes {
		if _, ok := live.Volumes[v]; !ok {
			return fmt.Sprintf("volume %s missing", v)
		}
	}
	return ""
}

// configCause names what changed in a service's config, as precisely as the
// container's labels allow.
func configCause(s DesiredService, c LiveContainer) string {
	if c.Fields == "" {
		if c.Image != "" && c.Image != s.Image {
			return fmt.Sprintf("image %s → %s", c.Image, s.Image)
		}
		return "config changed"
	}
	changed := ChangedFields(s.Fields, DecodeFields(c.Fields))
	var parts []string
	for _, f := range changed {
		if f == "image" && c.Image != "" {
			parts = append(parts, fmt.Sprintf("image %s → %s", c.Image, s.Image))
			continue
		}
		parts = append(parts, f)
	}
	if len(parts) == 0 {
		return "config changed"
	}
	if len(parts) == 1 && strings.HasPrefix(parts[0], "image ") {
		return parts[0]
	}
	return strings.Join(parts, ", ") + " changed"
}

// ShortID cuts a container or image ID to the 12 characters docker shows,
// dropping the digest algorithm of image IDs.
func ShortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// liveHash is the config hash a service's containers should carry now: for a
// service that points at other services' containers, compose hashes it with
// their current container IDs in place of the service names.
func liveHash(s DesiredService, live *Live) string {
	if len(s.Refs) == 0 || s.Config == nil {
		return s.Hash
	}
	h, err := ServiceHash(WithContainerRefs(*s.Config, live.firstContainers(s.Refs)))
	if err != nil {
		return s.Hash
	}
	return h
}

// firstContainers maps each service to the ID of its lowest-numbered
// container, the one compose resolves a service reference to.
func (l *Live) firstContainers(services []string) map[string]string {
	ids := map[string]string{}
	best := map[string]int{}
	for _, svc := range services {
		for _, c := range l.Containers {
			if c.Service == svc && !IsAside(c.Name) && (ids[svc] == "" || c.Number < best[svc]) {
				ids[svc], best[svc] = c.ID, c.Number
			}
		}
	}
	return ids
}

// asideMarker is in the name of a container that berth renamed aside while
// it replaces it; the planner removes such leftovers of an interrupted
// rollout.
const asideMarker = "_replaced_"

// AsideName is the name a container takes while its replacement runs under
// its own name.
func AsideName(name, id string) string { return name + asideMarker + ShortID(id) }

// IsAside says whether a container name is one AsideName made.
func IsAside(name string) bool { return strings.Contains(name, asideMarker) }
