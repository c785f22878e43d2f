package compose

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// Settings are the stack-level x-berth fields: what only berth reads, kept
// in an extension field so the files stay valid for plain compose.
type Settings struct {
	// Hosts lists the hosts that run the stack (names or path.Match
	// patterns); empty means every host.
	Hosts []string `yaml:"hosts"`
	// PruneVolumes removes the stack's named volumes with the stack when it
	// leaves the repo. Off by default: data outlives its stack.
	PruneVolumes bool `yaml:"prune_volumes"`
	// Verify and Bake belong to the rollout: the probes run after every
	// service passed its gate, and how long the stack is then watched. They
	// are read here only so that the keys are known; package rollout
	// decodes and validates them on the loaded project (rollout.Check),
	// after interpolation.
	Verify any `yaml:"verify"`
	Bake   any `yaml:"bake"`
}

// ReadSettings reads the top-level x-berth of a stack folder's compose
// files for env, the overlay's keys winning. It reads the files as they
// are, before interpolation, so a host can tell whether a stack is its own
// without the stack's variables.
func ReadSettings(dir, env string) (Settings, error) {
	files, err := ConfigFiles(dir, env)
	if err != nil {
		return Settings{}, err
	}
	// The files are checked as a load checks them, and their errors hide
	// content the same way: this read comes first.
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Settings{}, err
	}
	g, err := newFileGuard(abs, nil)
	if err != nil {
		return Settings{}, err
	}
	var s Settings
	for _, f := range files {
		if err := g.file("compose file", f, MaxStackFileSize); err != nil {
			return Settings{}, err
		}
		if err := readSettings(f, &s); err != nil {
			return Settings{}, errors.New(scrubText(err.Error(), abs))
		}
	}
	for _, h := range s.Hosts {
		if _, err := path.Match(h, ""); err != nil {
			return Settings{}, fmt.Errorf("%s: x-berth.hosts: bad pattern %q: %v", files[0], h, err)
		}
	}
	return s, nil
}

func readSettings(file string, s *Settings) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc struct {
		XBerth yaml.Node `yaml:"x-berth"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	if doc.XBerth.Kind == 0 {
		return nil
	}
	raw, err := yaml.Marshal(&doc.XBerth)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		return fmt.Errorf("%s: x-berth: %w", file, err)
	}
	return nil
}

// RunsOn says whether a stack with these settings runs on host.
func (s Settings) RunsOn(host string) bool {
	if len(s.Hosts) == 0 {
		return true
	}
	for _, h := range s.Hosts {
		if ok, _ := path.Match(h, host); ok {
			return true
		}
	}
	return false
}
