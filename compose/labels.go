package compose

import (
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// The labels docker compose puts on what it creates. berth sets the same ones
// so that `docker compose -p NAME ps|logs|exec` works on berth's stacks and
// each tool recognises the other's containers.
const (
	LabelProject         = "com.docker.compose.project"
	LabelService         = "com.docker.compose.service"
	LabelConfigHash      = "com.docker.compose.config-hash"
	LabelContainerNumber = "com.docker.compose.container-number"
	LabelVolume          = "com.docker.compose.volume"
	LabelNetwork         = "com.docker.compose.network"
	LabelWorkingDir      = "com.docker.compose.project.working_dir"
	LabelConfigFiles     = "com.docker.compose.project.config_files"
	LabelEnvironmentFile = "com.docker.compose.project.environment_file"
	LabelOneoff          = "com.docker.compose.oneoff"
	LabelImage           = "com.docker.compose.image"
	LabelDependsOn       = "com.docker.compose.depends_on"
	LabelVersion         = "com.docker.compose.version"
	LabelReplace         = "com.docker.compose.replace"
)

// berth's own labels.
const (
	LabelBerthManaged = "dev.berth.managed"
	LabelBerthStack   = "dev.berth.stack"
	LabelBerthCommit  = "dev.berth.commit"
	LabelBerthDeploy  = "dev.berth.deploy"
)

// ComposeVersion is the compose version berth's labels and hashes follow.
const ComposeVersion = "2.40.3"

// ServiceLabels are the labels compose attaches to every container of a
// service before hashing; they are not part of the config hash.
func ServiceLabels(p *types.Project, service string, envFiles []string) types.Labels {
	l := types.Labels{
		LabelProject:     p.Name,
		LabelService:     service,
		LabelVersion:     ComposeVersion,
		LabelWorkingDir:  p.WorkingDir,
		LabelConfigFiles: strings.Join(p.ComposeFiles, ","),
		LabelOneoff:      "False",
	}
	if len(envFiles) > 0 {
		l[LabelEnvironmentFile] = strings.Join(envFiles, ",")
	}
	return l
}
