package compose

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

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

// Live is what the engine runs for one project, read from its labels.
type Live struct {
	Project    string
	Containers []LiveContainer
	// Networks and Volumes are keyed by their engine names.
	Networks map[string]LiveResource
	Volumes  map[string]LiveResource
	// Images maps each image reference the desired state uses to its local
	// image ID; a missing image maps to "".
	Images map[string]string
}

// LiveContainer is one container of the project as the engine reports it.
type LiveContainer struct {
	ID      string
	Name    string
	Service string
	Number  int
	Image   string // the reference it was created from
	ImageID string // com.docker.compose.image, as compose records it
	State   string // created, running, exited, restarting, paused, dead
	Status  string // the engine's summary: "Up 2 minutes", "Exited (0) 5 seconds ago"
	Hash    string // com.docker.compose.config-hash
	Fields  string // dev.berth.fields: short hashes per service field
	// Networks maps engine network names to network IDs.
	Networks map[string]string
	// Volumes lists the named volumes mounted.
	Volumes []string
	Labels  map[string]string
}

// LiveResource is a network or a volume.
type LiveResource struct {
	ID     string
	Name   string
	Labels map[string]string
	Driver string
}

// maxImageInspects bounds the image inspections in flight.
const maxImageInspects = 8

// Observe reads the project's containers (stopped ones too), the networks
// and volumes the desired state names, and the local IDs of its images. The
// engine calls are independent, so they run at once: observing costs the
// slowest call (listing the containers), not the sum of all.
func Observe(ctx context.Context, e Observer, d *Desired) (*Live, error) {
	live := &Live{Project: d.Project, Networks: map[string]LiveResource{}, Volumes: map[string]LiveResource{}, Images: map[string]string{}}
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
func imageRefs(d *Desired) []string {
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

func observeContainers(ctx context.Context, e Observer, live *Live) error {
	res, err := e.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelProject+"="+live.Project),
	})
	if err != nil {
		return fmt.Errorf("list containers of %s: %w", live.Project, err)
	}
	for _, c := range res.Items {
		if c.Labels[LabelOneoff] == "True" {
			continue // `run` containers are not part of the stack's state
		}
		n, _ := strconv.Atoi(c.Labels[LabelContainerNumber])
		lc := LiveContainer{
			ID:       c.ID,
			Service:  c.Labels[LabelService],
			Number:   n,
			Image:    c.Image,
			ImageID:  c.Labels[LabelImage],
			State:    string(c.State),
			Status:   c.Status,
			Hash:     c.Labels[LabelConfigHash],
			Fields:   c.Labels[LabelBerthFields],
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

func observeNetworks(ctx context.Context, e Observer, networks []DesiredResource, live *Live) error {
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
			live.Networks[n.Name] = LiveResource{ID: n.ID, Name: n.Name, Labels: n.Labels, Driver: n.Driver}
		}
	}
	return nil
}

func observeVolumes(ctx context.Context, e Observer, volumes []DesiredResource, live *Live) error {
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
			live.Volumes[v.Name] = LiveResource{Name: v.Name, Labels: v.Labels, Driver: v.Driver}
		}
	}
	return nil
}
