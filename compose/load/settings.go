package load

import (
	"errors"
	"path/filepath"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/compose/budget"
)

// ReadSettings reads the top-level x-berth of a stack folder's compose
// files for env, the overlay's keys winning. It reads the files as they
// are, before interpolation, so a host can tell whether a stack is its own
// without the stack's variables: it fills Hosts and PruneVolumes, and only
// checks that the rest are keys berth knows (ReadStackSettings decodes
// them on the loaded project).
func ReadSettings(dir, env string) (compose.Settings, error) {
	files, err := ConfigFiles(dir, env)
	if err != nil {
		return compose.Settings{}, err
	}
	// The files are checked as a load checks them, and their errors hide
	// content the same way: this read comes first.
	abs, err := filepath.Abs(dir)
	if err != nil {
		return compose.Settings{}, err
	}
	g, err := newFileGuard(abs, nil)
	if err != nil {
		return compose.Settings{}, err
	}
	var s compose.Settings
	for _, f := range files {
		if err := g.file("compose file", f, MaxStackFileSize); err != nil {
			return compose.Settings{}, err
		}
		if err := compose.ReadSettingsFile(f, &s); err != nil && !budget.IsError(err) {
			return compose.Settings{}, errors.New(scrubText(err.Error(), abs))
		} else if err != nil {
			return compose.Settings{}, err // names the file by its base name only
		}
	}
	return s, nil
}

// ComposeFile is a compose file by name, with its content.
type ComposeFile struct {
	Name string
	Data []byte
}

// ParseSettings is ReadSettings on files already read, in the order they
// apply (see ComposeFileNames): a commit's files are judged without being
// written to disk.
func ParseSettings(files []ComposeFile) (compose.Settings, error) {
	var s compose.Settings
	for _, f := range files {
		if err := compose.ParseSettingsFile(f.Name, f.Data, &s); err != nil {
			return compose.Settings{}, errors.New(scrubText(err.Error(), ""))
		}
	}
	return s, nil
}

// ComposeFileNames are the names of a stack folder's compose files: the
// base file is the first of base that exists, the overlay for env the
// first of overlay (none without env).
func ComposeFileNames(env string) (base, overlay []string) {
	if env != "" {
		overlay = []string{"compose." + env + ".yaml", "compose." + env + ".yml"}
	}
	return defaultFileNames, overlay
}
