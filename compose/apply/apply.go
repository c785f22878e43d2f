package apply

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/convert"
	"github.com/berth-gitops/berth/compose/observe"
	"github.com/compose-spec/compose-go/v2/types"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Engine is the part of the Docker API that applying a plan needs.
type Engine interface {
	observe.Observer
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

// ApplyOptions tune an Executor.
type ApplyOptions struct {
	Logger *slog.Logger
	// Labels are extra labels for every container created (dev.berth.*).
	Labels map[string]string
	// DependencyTimeout bounds the wait for a depends_on condition
	// (default 5 min).
	DependencyTimeout time.Duration
}

// OpError is an operation that failed, naming the service and the engine's
// error.
type OpError struct {
	Op  compose.Op
	Err error
}

func (e *OpError) Error() string {
	if e.Op.Service != "" {
		return fmt.Sprintf("service %q: %s %s: %v", e.Op.Service, e.Op.Kind, e.Op.Target(), e.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.Op.Kind, e.Op.Target(), e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// Executor performs one engine operation at a time on a project: pull,
// create, start, stop, rename, remove, wait for a dependency. It decides
// nothing: when to deploy, in which order, with which strategy, and what
// counts as success are package rollout's. Its methods may be called
// concurrently, for different containers.
type Executor struct {
	e      Engine
	p      *types.Project
	d      *compose.Desired
	o      ApplyOptions
	mu     sync.Mutex
	images map[string]string // image reference → local ID
	waited map[string]bool   // dependencies already waited for
}

// NewExecutor returns an executor for the project p with desired state d.
func NewExecutor(e Engine, p *types.Project, d *compose.Desired, o ApplyOptions) *Executor {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DependencyTimeout == 0 {
		o.DependencyTimeout = 5 * time.Minute
	}
	return &Executor{e: e, p: p, d: d, o: o, images: map[string]string{}, waited: map[string]bool{}}
}

// Pull pulls an image.
func (x *Executor) Pull(ctx context.Context, ref string) error {
	resp, err := x.e.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("image %s could not be pulled: %w", ref, err)
	}
	defer resp.Close()
	if err := resp.Wait(ctx); err != nil {
		return fmt.Errorf("image %s could not be pulled: %w", ref, err)
	}
	return nil
}

// ResolveImages records each service image's local ID for the image label,
// and fails, naming the service, when one is still missing.
func (x *Executor) ResolveImages(ctx context.Context) error {
	for _, s := range x.d.Services {
		if _, ok := x.imageID(s.Image); ok || s.Replicas == 0 {
			continue
		}
		img, err := x.e.ImageInspect(ctx, s.Image)
		if err != nil {
			return fmt.Errorf("service %q: image %s: %w", s.Name, s.Image, err)
		}
		x.mu.Lock()
		x.images[s.Image] = img.ID
		x.mu.Unlock()
	}
	return nil
}

func (x *Executor) imageID(ref string) (string, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	id, ok := x.images[ref]
	return id, ok
}

// CreateNetwork creates one of the project's networks by engine name.
func (x *Executor) CreateNetwork(ctx context.Context, name string) error {
	for key, n := range x.p.Networks {
		if n.Name != name {
			continue
		}
		opts, err := convert.NetworkCreateOptions(x.p, key)
		if err != nil {
			return err
		}
		_, err = x.e.NetworkCreate(ctx, name, opts)
		return err
	}
	return fmt.Errorf("network %s is not in the project", name)
}

// CreateVolume creates one of the project's named volumes by engine name.
func (x *Executor) CreateVolume(ctx context.Context, name string) error {
	for key, v := range x.p.Volumes {
		if v.Name != name {
			continue
		}
		opts, err := convert.VolumeCreateOptions(x.p, key)
		if err != nil {
			return err
		}
		_, err = x.e.VolumeCreate(ctx, opts)
		return err
	}
	return fmt.Errorf("volume %s is not in the project", name)
}

// Service returns a service's desired state and its loaded config.
func (x *Executor) Service(name string) (compose.DesiredService, types.ServiceConfig, error) {
	for _, s := range x.d.Services {
		if s.Name == name {
			return s, x.p.Services[name], nil
		}
	}
	return compose.DesiredService{}, types.ServiceConfig{}, fmt.Errorf("service %q is not in the project", name)
}

// CreateContainer creates (but does not start) container number n of a
// service under the given name, and connects its extra networks. It does
// not wait for the service's dependencies: WaitDependencies does.
func (x *Executor) CreateContainer(ctx context.Context, service string, number int, name string) (string, error) {
	return x.createContainer(ctx, service, number, name, false)
}

// CreateTask is CreateContainer for a task that must run once: its restart
// policy is forced to "no", so that a migration that fails is not run again
// by the engine. Its labels and config hash are the service's own.
func (x *Executor) CreateTask(ctx context.Context, service string, number int, name string) (string, error) {
	return x.createContainer(ctx, service, number, name, true)
}

func (x *Executor) createContainer(ctx context.Context, service string, number int, name string, once bool) (string, error) {
	ds, svc, err := x.Service(service)
	if err != nil {
		return "", err
	}
	image, ok := x.imageID(svc.Image)
	if !ok {
		if err := x.ResolveImages(ctx); err != nil {
			return "", err
		}
		image, _ = x.imageID(svc.Image)
	}
	hash, err := x.hashWithRefs(ctx, ds, svc)
	if err != nil {
		return "", err
	}
	labels := map[string]string{
		compose.LabelConfigHash:      hash,
		compose.LabelContainerNumber: strconv.Itoa(number),
		compose.LabelImage:           image,
		compose.LabelDependsOn:       dependsOnLabel(svc),
		compose.LabelBerthFields:     compose.EncodeFields(ds.Fields),
		compose.LabelBerthManaged:    "true",
		compose.LabelBerthStack:      x.p.Name,
	}
	for k, v := range x.o.Labels {
		labels[k] = v
	}
	spec, err := convert.BuildContainerSpec(x.p, svc, convert.SpecInput{Number: number, Labels: labels, ContainerFor: x.containerFor(ctx)})
	if err != nil {
		return "", err
	}
	if once {
		spec.HostConfig.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyDisabled}
	}
	res, err := x.e.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name, Config: spec.Config, HostConfig: spec.HostConfig, NetworkingConfig: spec.Networking,
	})
	if err != nil {
		return "", err
	}
	for _, att := range spec.ExtraNetworks {
		if _, err := x.e.NetworkConnect(ctx, att.Network, client.NetworkConnectOptions{Container: res.ID, EndpointConfig: att.Endpoint}); err != nil {
			_, _ = x.e.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true})
			return "", fmt.Errorf("connect to network %s: %w", att.Network, err)
		}
	}
	return res.ID, nil
}

// hashWithRefs is the config hash of a service whose references to other
// services' containers are resolved to their IDs now.
func (x *Executor) hashWithRefs(ctx context.Context, ds compose.DesiredService, svc types.ServiceConfig) (string, error) {
	if len(ds.Refs) == 0 {
		return ds.Hash, nil
	}
	ids := map[string]string{}
	for _, ref := range ds.Refs {
		id, err := x.containerFor(ctx)(ref)
		if err != nil {
			return "", err
		}
		ids[ref] = id
	}
	return compose.ServiceHash(compose.WithContainerRefs(svc, ids))
}

// Start starts a container.
func (x *Executor) Start(ctx context.Context, id string) error {
	_, err := x.e.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return err
}

// Stop stops a container, honouring its stop_grace_period. A container that
// is gone counts as stopped.
func (x *Executor) Stop(ctx context.Context, id string) error {
	if _, err := x.e.ContainerStop(ctx, id, client.ContainerStopOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}

// Kill stops a container at once, without a grace period: one that failed
// its gate and is about to be removed.
func (x *Executor) Kill(ctx context.Context, id string) error {
	now := 0
	if _, err := x.e.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &now}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("kill: %w", err)
	}
	return nil
}

// Remove removes a container, running or not. Its anonymous volumes are
// kept like named ones.
func (x *Executor) Remove(ctx context.Context, id string) error {
	if _, err := x.e.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove: %w", err)
	}
	return nil
}

// StopRemove stops a container gracefully, then removes it.
func (x *Executor) StopRemove(ctx context.Context, id string) error {
	if err := x.Stop(ctx, id); err != nil {
		return err
	}
	if _, err := x.e.ContainerRemove(ctx, id, client.ContainerRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove: %w", err)
	}
	return nil
}

// Rename renames a container.
func (x *Executor) Rename(ctx context.Context, id, name string) error {
	if _, err := x.e.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: name}); err != nil {
		return fmt.Errorf("rename to %s: %w", name, err)
	}
	return nil
}

// Inspect returns a container's state and config.
func (x *Executor) Inspect(ctx context.Context, id string) (container.InspectResponse, error) {
	res, err := x.e.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	return res.Container, err
}

// containerFor resolves "service:X" to X's lowest-numbered container, as
// compose does. Containers set aside by a rollout in flight do not count.
func (x *Executor) containerFor(ctx context.Context) func(string) (string, error) {
	return func(service string) (string, error) {
		items, err := x.ServiceContainers(ctx, service)
		if err != nil {
			return "", err
		}
		if len(items) == 0 {
			return "", fmt.Errorf("service %q has no container", service)
		}
		return items[0].ID, nil
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

// ServiceContainers lists a service's containers, stopped ones too, by
// container number; one-off containers and containers set aside by a
// rollout are left out.
func (x *Executor) ServiceContainers(ctx context.Context, service string) ([]container.Summary, error) {
	res, err := x.e.ContainerList(ctx, client.ContainerListOptions{
		All: true,
		Filters: make(client.Filters).
			Add("label", compose.LabelProject+"="+x.p.Name).
			Add("label", compose.LabelService+"="+service),
	})
	if err != nil {
		return nil, err
	}
	var out []container.Summary
	for _, c := range res.Items {
		if c.Labels[compose.LabelOneoff] == "True" || len(c.Names) > 0 && compose.IsAside(c.Names[0]) {
			continue
		}
		out = append(out, c)
	}
	number := func(c container.Summary) int { n, _ := strconv.Atoi(c.Labels[compose.LabelContainerNumber]); return n }
	sort.SliceStable(out, func(i, j int) bool { return number(out[i]) < number(out[j]) })
	return out, nil
}
