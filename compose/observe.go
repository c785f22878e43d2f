package compose

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
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

// Observe reads the project's containers (stopped ones too), the networks
// and volumes the desired state names, and the local IDs of its images.
func Observe(ctx context.Context, e Observer, p *types.Project) (*Live, error) {
	live := &Live{Project: p.Name, Networks: map[string]LiveResource{}, Volumes: map[string]LiveResource{}, Images: map[string]string{}}
	if err := observeContainers(ctx, e, live); err != nil {
		return nil, err
	}
	if err := observeNetworks(ctx, e, p, live); err != nil {
		return nil, err
	}
	if err := observeVolumes(ctx, e, p, live); err != nil {
		return nil, err
	}
	for _, s := range p.Services {
		if _, seen := live.Images[s.Image]; seen || s.Image == "" {
			continue
		}
		img, err := e.ImageInspect(ctx, s.Image)
		switch {
		case cerrdefs.IsNotFound(err):
			live.Images[s.Image] = ""
		case err != nil:
			return nil, fmt.Errorf("inspect image %s: %w", s.Image, err)
		default:
			live.Images[s.Image] = img.ID
		}
	}
	return live, nil
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

func observeNetworks(ctx context.Context, e Observer, p *types.Project, live *Live) error {
	if len(p.Networks) == 0 {
		return nil
	}
	res, err := e.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	wanted := map[string]bool{}
	for _, n := range p.Networks {
		wanted[n.Name] = true
	}
	for _, n := range res.Items {
		if wanted[n.Name] {
			live.Networks[n.Name] = LiveResource{ID: n.ID, Name: n.Name, Labels: n.Labels, Driver: n.Driver}
		}
	}
	return nil
}

func observeVolumes(ctx context.Context, e Observer, p *types.Project, live *Live) error {
	if len(p.Volumes) == 0 {
		return nil
	}
	res, err := e.VolumeList(ctx, client.VolumeListOptions{})
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	wanted := map[string]bool{}
	for _, v := range p.Volumes {
		wanted[v.Name] = true
	}
	for _, v := range res.Items {
		if wanted[v.Name] {
			live.Volumes[v.Name] = LiveResource{Name: v.Name, Labels: v.Labels, Driver: v.Driver}
		}
	}
	return nil
}
