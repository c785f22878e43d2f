package observe

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-gitops/berth/compose"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Observer is the part of the engine API that observing a stack needs.
type Observer interface {
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	VolumeList(ctx context.Context, options client.VolumeListOptions) (client.VolumeListResult, error)
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
}

var _ Observer = (*client.Client)(nil)

// maxImageInspects bounds the image inspections in flight.
const maxImageInspects = 8

// Observe reads the project's containers (stopped ones too), the networks
// and volumes the desired state names, and the local IDs of its images. The
// engine calls are independent, so they run at once: observing costs the
// slowest call (listing the containers), not the sum of all.
func Observe(ctx context.Context, e Observer, d *compose.Desired) (*compose.Live, error) {
	live := &compose.Live{Project: d.Project, Networks: map[string]compose.LiveResource{}, Volumes: map[string]compose.LiveResource{}, Images: map[string]string{}}
	images := imageRefs(d)
	ids := make([]string, len(images))
	errs := make([]error, 3+len(images))
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = observeContainers(ctx, e, live) })
	wg.Go(func() { errs[1] = observeNetworks(ctx, e, d.Networks, live) })
	wg.Go(func() { errs[2] = observeVolumes(ctx, e, d.Volumes, live) })
	inspecting := make(chan struct{}, maxImageInspects)
	for i, ref := range images {
		wg.Go(func() {
			inspecting <- struct{}{}
			defer func() { <-inspecting }()
			ids[i], errs[3+i] = imageID(ctx, e, ref)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for i, ref := range images {
		live.Images[ref] = ids[i]
	}
	return live, nil
}

// imageRefs lists the distinct images the services use, in service order.
func imageRefs(d *compose.Desired) []string {
	var refs []string
	seen := map[string]bool{"": true}
	for _, s := range d.Services {
		if ref := s.Image; !seen[ref] {
			seen[ref] = true
			refs = append(refs, ref)
		}
	}
	return refs
}

// imageID is the local ID of an image, or "" when the engine has none.
func imageID(ctx context.Context, e Observer, ref string) (string, error) {
	img, err := e.ImageInspect(ctx, ref)
	switch {
	case cerrdefs.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return img.ID, nil
}

func observeContainers(ctx context.Context, e Observer, live *compose.Live) error {
	res, err := e.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", compose.LabelProject+"="+live.Project),
	})
	if err != nil {
		return fmt.Errorf("list containers of %s: %w", live.Project, err)
	}
	for _, c := range res.Items {
		if c.Labels[compose.LabelOneoff] == "True" {
			continue // `run` containers are not part of the stack's state
		}
		n, _ := strconv.Atoi(c.Labels[compose.LabelContainerNumber])
		lc := compose.LiveContainer{
			ID:       c.ID,
			Service:  c.Labels[compose.LabelService],
			Number:   n,
			Image:    c.Image,
			ImageID:  c.Labels[compose.LabelImage],
			State:    string(c.State),
			Status:   c.Status,
			Hash:     c.Labels[compose.LabelConfigHash],
			Fields:   c.Labels[compose.LabelBerthFields],
			Labels:   c.Labels,
			Networks: map[string]string{},
		}
		if len(c.Names) > 0 {
			lc.Name = strings.TrimPrefix(c.Names[0], "/")
		}
		if c.NetworkSettings != nil {
			for name, ep := range c.NetworkSettings.Networks {
				if ep != nil {
					lc.Networks[name] = ep.NetworkID
				}
			}
		}
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Name != "" {
				lc.Volumes = append(lc.Volumes, m.Name)
			}
		}
		live.Containers = append(live.Containers, lc)
	}
	sort.Slice(live.Containers, func(i, j int) bool {
		a, b := live.Containers[i], live.Containers[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Number < b.Number
	})
	return nil
}

func observeNetworks(ctx context.Context, e Observer, networks []compose.DesiredResource, live *compose.Live) error {
	if len(networks) == 0 {
		return nil
	}
	res, err := e.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	wanted := map[string]bool{}
	for _, n := range networks {
		wanted[n.Name] = true
	}
	for _, n := range res.Items {
		if wanted[n.Name] {
			live.Networks[n.Name] = compose.LiveResource{ID: n.ID, Name: n.Name, Labels: n.Labels, Driver: n.Driver}
		}
	}
	return nil
}

func observeVolumes(ctx context.Context, e Observer, volumes []compose.DesiredResource, live *compose.Live) error {
	if len(volumes) == 0 {
		return nil
	}
	res, err := e.VolumeList(ctx, client.VolumeListOptions{})
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	wanted := map[string]bool{}
	for _, v := range volumes {
		wanted[v.Name] = true
	}
	for _, v := range res.Items {
		if wanted[v.Name] {
			live.Volumes[v.Name] = compose.LiveResource{Name: v.Name, Labels: v.Labels, Driver: v.Driver}
		}
	}
	return nil
}

// Drift says how the live containers of a project differ from its desired
// state, from a single container list call: a missing, extra, stopped or
// changed container. No drift (nil) means the project needs no engine
// writes. It is the controller's cheap check for an unchanged commit; it
// does not look at images, networks or volumes, which BuildPlan does.
func Drift(ctx context.Context, e Observer, d *compose.Desired) ([]string, error) {
	live := &compose.Live{Project: d.Project}
	if err := observeContainers(ctx, e, live); err != nil {
		return nil, err
	}
	return compose.DriftOf(d, live), nil
}
