package compose

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Engine is the part of the Docker API that applying a plan needs.
type Engine interface {
	Observer
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, id string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerStop(ctx context.Context, id string, options client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerRemove(ctx context.Context, id string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerRename(ctx context.Context, id string, options client.ContainerRenameOptions) (client.ContainerRenameResult, error)
	ContainerInspect(ctx context.Context, id string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerLogs(ctx context.Context, id string, options client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	NetworkCreate(ctx context.Context, name string, options client.NetworkCreateOptions) (client.NetworkCreateResult, error)
	NetworkConnect(ctx context.Context, network string, options client.NetworkConnectOptions) (client.NetworkConnectResult, error)
	VolumeCreate(ctx context.Context, options client.VolumeCreateOptions) (client.VolumeCreateResult, error)
	ImagePull(ctx context.Context, ref string, options client.ImagePullOptions) (client.ImagePullResponse, error)
}

var _ Engine = (*client.Client)(nil)

// ApplyOptions tune how a plan is applied.
type ApplyOptions struct {
	Logger *slog.Logger
	// Labels are extra labels for every container created (dev.berth.*).
	Labels map[string]string
	// Progress is called before each operation runs.
	Progress func(Op)
	// Settle is how long a started container must keep running before it
	// counts as started; a container that exits within it fails the apply.
	// Zero checks once, right after the start.
	Settle time.Duration
	// DependencyTimeout bounds the wait for a depends_on condition.
	DependencyTimeout time.Duration
}

// OpError is an operation that failed, naming the service and the engine's
// error.
type OpError struct {
	Op  Op
	Err error
}

func (e *OpError) Error() string {
	if e.Op.Service != "" {
		return fmt.Sprintf("service %q: %s %s: %v", e.Op.Service, e.Op.Kind, e.Op.target(), e.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.Op.Kind, e.Op.target(), e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

func (op Op) target() string {
	if op.Container != "" {
		return op.Container
	}
	return op.Resource
}

// Apply runs a plan's operations in order against the engine. Images are
// pulled before any container is touched, so a missing image changes
// nothing. Named volumes are never removed.
func Apply(ctx context.Context, e Engine, p *types.Project, d *Desired, pl Plan, o ApplyOptions) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DependencyTimeout == 0 {
		o.DependencyTimeout = 5 * time.Minute
	}
	a := &applier{e: e, p: p, d: d, o: o, images: map[string]string{}}
	pulled := false
	for _, op := range pl.Ops {
		if op.Kind == OpPull {
			if err := a.run(ctx, op); err != nil {
				return err
			}
			pulled = true
		}
	}
	if pulled {
		// A pulled image may differ from what runs: plan again with its ID.
		live, err := Observe(ctx, e, p)
		if err != nil {
			return err
		}
		if pl, err = BuildPlan(d, live); err != nil {
			return err
		}
	}
	if err := a.resolveImages(ctx); err != nil {
		return err
	}
	for _, op := range pl.Ops {
		if op.Kind == OpPull {
			continue
		}
		if err := a.run(ctx, op); err != nil {
			return err
		}
	}
	return nil
}

type applier struct {
	e      Engine
	p      *types.Project
	d      *Desired
	o      ApplyOptions
	images map[string]string // image reference → local ID
	waited map[string]bool   // dependencies already waited for
}

func (a *applier) run(ctx context.Context, op Op) error {
	if a.o.Progress != nil {
		a.o.Progress(op)
	}
	start := time.Now()
	var err error
	switch op.Kind {
	case OpPull:
		err = a.pull(ctx, op.Resource)
	case OpCreateNetwork:
		err = a.createNetwork(ctx, op.Resource)
	case OpCreateVolume:
		err = a.createVolume(ctx, op.Resource)
	case OpCreate:
		err = a.create(ctx, op)
	case OpRecreate:
		err = a.recreate(ctx, op)
	case OpStart:
		err = a.start(ctx, op, op.ContainerID)
	case OpRemove:
		err = a.remove(ctx, op.ContainerID, op.Service)
	default:
		err = fmt.Errorf("unknown operation")
	}
	if err != nil {
		return &OpError{Op: op, Err: err}
	}
	attrs := []any{"op", string(op.Kind), "target", op.target(), "cause", op.Cause, "seconds", math.Round(time.Since(start).Seconds()*1000) / 1000}
	if op.Service != "" {
		attrs = append(attrs, "service", op.Service)
	}
	a.o.Logger.Info("operation done", attrs...)
	return nil
}

func (a *applier) pull(ctx context.Context, ref string) error {
	resp, err := a.e.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("image %s is not present locally and could not be pulled: %w", ref, err)
	}
	defer resp.Close()
	if err := resp.Wait(ctx); err != nil {
		return fmt.Errorf("image %s is not present locally and could not be pulled: %w", ref, err)
	}
	return nil
}

// resolveImages records each service image's local ID for the image label,
// and fails, naming the service, when one is still missing.
func (a *applier) resolveImages(ctx context.Context) error {
	for _, s := range a.d.Services {
		if _, ok := a.images[s.Image]; ok || s.Replicas == 0 {
			continue
		}
		img, err := a.e.ImageInspect(ctx, s.Image)
		if err != nil {
			return fmt.Errorf("service %q: image %s: %w", s.Name, s.Image, err)
		}
		a.images[s.Image] = img.ID
	}
	return nil
}

func (a *applier) createNetwork(ctx context.Context, name string) error {
	for key, n := range a.p.Networks {
		if n.Name != name {
			continue
		}
		opts, err := NetworkCreateOptions(a.p, key)
		if err != nil {
			return err
		}
		_, err = a.e.NetworkCreate(ctx, name, opts)
		return err
	}
	return fmt.Errorf("network %s is not in the project", name)
}

func (a *applier) createVolume(ctx context.Context, name string) error {
	for key, v := range a.p.Volumes {
		if v.Name != name {
			continue
		}
		opts, err := VolumeCreateOptions(a.p, key)
		if err != nil {
			return err
		}
		_, err = a.e.VolumeCreate(ctx, opts)
		return err
	}
	return fmt.Errorf("volume %s is not in the project", name)
}

func (a *applier) desired(name string) (DesiredService, types.ServiceConfig, error) {
	for _, s := range a.d.Services {
		if s.Name == name {
			return s, a.p.Services[name], nil
		}
	}
	return DesiredService{}, types.ServiceConfig{}, fmt.Errorf("service %q is not in the project", name)
}

// createContainer creates (but does not start) container number n of a
// service under the given name, and connects its extra networks.
func (a *applier) createContainer(ctx context.Context, op Op, name string) (string, error) {
	ds, svc, err := a.desired(op.Service)
	if err != nil {
		return "", err
	}
	if err := a.waitDependencies(ctx, svc); err != nil {
		return "", err
	}
	hash, err := a.hashWithRefs(ctx, ds, svc)
	if err != nil {
		return "", err
	}
	labels := map[string]string{
		LabelConfigHash:      hash,
		LabelContainerNumber: strconv.Itoa(op.Number),
		LabelImage:           a.images[svc.Image],
		LabelDependsOn:       dependsOnLabel(svc),
		LabelBerthFields:     EncodeFields(ds.Fields),
		LabelBerthManaged:    "true",
		LabelBerthStack:      a.p.Name,
	}
	for k, v := range a.o.Labels {
		labels[k] = v
	}
	spec, err := BuildContainerSpec(a.p, svc, SpecInput{Number: op.Number, Labels: labels, ContainerFor: a.containerFor(ctx)})
	if err != nil {
		return "", err
	}
	res, err := a.e.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name, Config: spec.Config, HostConfig: spec.HostConfig, NetworkingConfig: spec.Networking,
	})
	if err != nil {
		return "", err
	}
	for _, att := range spec.ExtraNetworks {
		if _, err := a.e.NetworkConnect(ctx, att.Network, client.NetworkConnectOptions{Container: res.ID, EndpointConfig: att.Endpoint}); err != nil {
			_, _ = a.e.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true})
			return "", fmt.Errorf("connect to network %s: %w", att.Network, err)
		}
	}
	return res.ID, nil
}

// hashWithRefs is the config hash of a service whose references to other
// services' containers are resolved to their IDs now.
func (a *applier) hashWithRefs(ctx context.Context, ds DesiredService, svc types.ServiceConfig) (string, error) {
	if len(ds.Refs) == 0 {
		return ds.Hash, nil
	}
	ids := map[string]string{}
	for _, ref := range ds.Refs {
		id, err := a.containerFor(ctx)(ref)
		if err != nil {
			return "", err
		}
		ids[ref] = id
	}
	return ServiceHash(withContainerRefs(svc, ids))
}

// create creates and starts a missing container; one that does not start
// is removed again so that a failed apply leaves nothing half made.
func (a *applier) create(ctx context.Context, op Op) error {
	id, err := a.createContainer(ctx, op, op.Container)
	if err != nil {
		return err
	}
	if err := a.start(ctx, op, id); err != nil {
		if _, rmErr := a.e.ContainerRemove(context.WithoutCancel(ctx), id, client.ContainerRemoveOptions{Force: true}); rmErr != nil {
			a.o.Logger.Error("remove container that failed to start", "service", op.Service, "container", op.Container, "error", rmErr)
		}
		return err
	}
	return nil
}

// recreate replaces a container the way compose does: the new one is
// created under a temporary name, the old one stopped (honouring its stop
// grace period), and the new one takes the name and starts. The old one is
// kept aside until the new one runs, so a failed start puts it back as it
// was.
func (a *applier) recreate(ctx context.Context, op Op) error {
	tmp := shortID(op.ContainerID) + "_" + op.Container
	id, err := a.createContainer(ctx, op, tmp)
	if err != nil {
		return err
	}
	if _, err := a.e.ContainerStop(ctx, op.ContainerID, client.ContainerStopOptions{}); err != nil {
		_, _ = a.e.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
		return fmt.Errorf("stop old container: %w", err)
	}
	aside := op.Container + "_replaced_" + shortID(op.ContainerID)
	if _, err := a.e.ContainerRename(ctx, op.ContainerID, client.ContainerRenameOptions{NewName: aside}); err != nil {
		_, _ = a.e.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
		a.restart(ctx, op)
		return fmt.Errorf("rename old container: %w", err)
	}
	if _, err := a.e.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: op.Container}); err != nil {
		a.putBack(ctx, op, id)
		return fmt.Errorf("rename %s to %s: %w", tmp, op.Container, err)
	}
	if err := a.start(ctx, op, id); err != nil {
		a.putBack(ctx, op, id)
		return fmt.Errorf("%w (the previous container was put back)", err)
	}
	if _, err := a.e.ContainerRemove(ctx, op.ContainerID, client.ContainerRemoveOptions{}); err != nil {
		return fmt.Errorf("remove old container: %w", err)
	}
	return nil
}

// putBack undoes a replacement that failed: the new container goes, the old
// one gets its name back and runs again if it ran before.
func (a *applier) putBack(ctx context.Context, op Op, newID string) {
	ctx = context.WithoutCancel(ctx)
	if _, err := a.e.ContainerRemove(ctx, newID, client.ContainerRemoveOptions{Force: true}); err != nil {
		a.o.Logger.Error("remove failed replacement", "service", op.Service, "container", newID, "error", err)
	}
	if _, err := a.e.ContainerRename(ctx, op.ContainerID, client.ContainerRenameOptions{NewName: op.Container}); err != nil {
		a.o.Logger.Error("give the previous container its name back", "service", op.Service, "container", op.Container, "error", err)
	}
	a.restart(ctx, op)
}

// restart starts the old container again when it was running before.
func (a *applier) restart(ctx context.Context, op Op) {
	if op.PrevState != "running" {
		return
	}
	if _, err := a.e.ContainerStart(ctx, op.ContainerID, client.ContainerStartOptions{}); err != nil {
		a.o.Logger.Error("restart the previous container", "service", op.Service, "container", op.Container, "error", err)
	}
}

// start starts a container and waits for it to keep running through the
// settle time; one that exits or restarts fails with its last log lines.
func (a *applier) start(ctx context.Context, op Op, id string) error {
	if _, err := a.e.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return err
	}
	if a.o.Settle > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(a.o.Settle):
		}
	}
	res, err := a.e.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	st := res.Container.State
	if st == nil || st.Running && !st.Restarting {
		return nil
	}
	_, svc, _ := a.desired(op.Service)
	if !st.Running && !st.Restarting && st.ExitCode == 0 && (svc.Restart == "" || svc.Restart == "no") {
		return nil // a one-shot task that finished
	}
	return fmt.Errorf("container %s is %s (exit code %d)%s", op.Container, st.Status, st.ExitCode, a.logTail(ctx, id))
}

func (a *applier) remove(ctx context.Context, id, service string) error {
	if _, err := a.e.ContainerStop(ctx, id, client.ContainerStopOptions{}); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	// RemoveVolumes stays false: anonymous volumes are kept like named ones.
	_, err := a.e.ContainerRemove(ctx, id, client.ContainerRemoveOptions{})
	return err
}

// containerFor resolves "service:X" to X's lowest-numbered container, as
// compose does.
func (a *applier) containerFor(ctx context.Context) func(string) (string, error) {
	return func(service string) (string, error) {
		items, err := a.serviceContainers(ctx, service)
		if err != nil {
			return "", err
		}
		number := func(c container.Summary) int { n, _ := strconv.Atoi(c.Labels[LabelContainerNumber]); return n }
		sort.Slice(items, func(i, j int) bool { return number(items[i]) < number(items[j]) })
		for _, c := range items {
			if c.Labels[LabelOneoff] != "True" {
				return c.ID, nil
			}
		}
		return "", fmt.Errorf("service %q has no container", service)
	}
}

// dependsOnLabel renders depends_on as compose does: "svc:condition:restart",
// sorted so the label is stable.
func dependsOnLabel(s types.ServiceConfig) string {
	var deps []string
	for name, d := range s.DependsOn {
		deps = append(deps, fmt.Sprintf("%s:%s:%t", name, d.Condition, d.Restart))
	}
	sort.Strings(deps)
	return strings.Join(deps, ",")
}

// serviceContainers lists a service's containers, stopped ones too.
func (a *applier) serviceContainers(ctx context.Context, service string) ([]container.Summary, error) {
	res, err := a.e.ContainerList(ctx, client.ContainerListOptions{
		All: true,
		Filters: make(client.Filters).
			Add("label", LabelProject+"="+a.p.Name).
			Add("label", LabelService+"="+service),
	})
	return res.Items, err
}
