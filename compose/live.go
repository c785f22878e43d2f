package compose

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
