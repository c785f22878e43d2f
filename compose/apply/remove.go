package apply

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/berth-gitops/berth/compose"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Remover is the part of the engine API that removing a project needs.
type Remover interface {
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerStop(ctx context.Context, id string, options client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerRemove(ctx context.Context, id string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemove(ctx context.Context, network string, options client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
	VolumeList(ctx context.Context, options client.VolumeListOptions) (client.VolumeListResult, error)
	VolumeRemove(ctx context.Context, volumeID string, options client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)
}

var _ Remover = (*client.Client)(nil)

// Removal is what RemoveProject did and what it left.
type Removal struct {
	Removed []string // "container NAME", "network NAME", "volume NAME"
	Kept    []string // each with the reason
}

// RemoveProject takes a project off the engine: the containers berth
// created (dev.berth.managed), then the project's networks. Named volumes
// stay unless pruneVolumes is set. A container of the project that berth
// did not create is never touched, and a network it still uses stays.
func RemoveProject(ctx context.Context, e Remover, project string, pruneVolumes bool, log *slog.Logger) (Removal, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var r Removal
	byProject := make(client.Filters).Add("label", compose.LabelProject+"="+project)
	cs, err := e.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: byProject})
	if err != nil {
		return r, fmt.Errorf("list containers of %s: %w", project, err)
	}
	for _, c := range cs.Items {
		name := compose.ShortID(c.ID)
		if len(c.Names) > 0 {
			name = c.Names[0][1:]
		}
		if c.Labels[compose.LabelBerthManaged] != "true" {
			r.Kept = append(r.Kept, fmt.Sprintf("container %s: not created by berth", name))
			continue
		}
		if _, err := e.ContainerStop(ctx, c.ID, client.ContainerStopOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return r, fmt.Errorf("stop container %s: %w", name, err)
		}
		if _, err := e.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return r, fmt.Errorf("remove container %s: %w", name, err)
		}
		log.Info("removed container", "container", name)
		r.Removed = append(r.Removed, "container "+name)
	}
	ns, err := e.NetworkList(ctx, client.NetworkListOptions{Filters: byProject})
	if err != nil {
		return r, fmt.Errorf("list networks of %s: %w", project, err)
	}
	for _, n := range ns.Items {
		if _, err := e.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			r.Kept = append(r.Kept, fmt.Sprintf("network %s: %v", n.Name, err))
			continue
		}
		log.Info("removed network", "network", n.Name)
		r.Removed = append(r.Removed, "network "+n.Name)
	}
	vs, err := e.VolumeList(ctx, client.VolumeListOptions{Filters: byProject})
	if err != nil {
		return r, fmt.Errorf("list volumes of %s: %w", project, err)
	}
	for _, v := range vs.Items {
		if !pruneVolumes {
			r.Kept = append(r.Kept, fmt.Sprintf("volume %s: named volumes are kept (x-berth prune_volumes is not set)", v.Name))
			continue
		}
		if _, err := e.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			r.Kept = append(r.Kept, fmt.Sprintf("volume %s: %v", v.Name, err))
			continue
		}
		log.Info("removed volume", "volume", v.Name)
		r.Removed = append(r.Removed, "volume "+v.Name)
	}
	return r, nil
}
