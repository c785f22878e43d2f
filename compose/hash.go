package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/compose-spec/compose-go/v2/types"
)

// ServiceHash returns the value docker compose v2.40.3 writes in the
// com.docker.compose.config-hash label of a service's containers: the
// lowercase hex SHA-256 of the service's JSON encoding. Equal hashes are how
// berth and compose each decide that a container needs no recreation, so
// the encoding must stay byte for byte the one compose uses.
//
// Before encoding, the fields that say how or whether containers come to be,
// rather than what each container is, are cleared, so that changing them
// never recreates a running container:
//   - Build: how the image is made; a rebuilt image shows up in the image
//     label instead.
//   - PullPolicy: when to pull is a choice of the deploy, not of the container.
//   - Scale and Deploy.Replicas: how many containers run; scaling adds or
//     removes containers and leaves the others alone.
//   - DependsOn: the start order among services.
//   - Profiles: whether the service is selected at all.
//
// Everything else counts, including fields compose does not pass to the
// engine and the absolute paths of bind-mount sources. Hash the service as
// it is about to be created: like compose, with its env_file merged into its
// environment and with each reference to another service's container
// (network_mode, ipc, pid "service:X", volumes_from) replaced by that
// container's ID.
func ServiceHash(s types.ServiceConfig) (string, error) {
	b, err := json.Marshal(hashedForm(s))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// hashedForm is s with the fields cleared that the config hash leaves out.
func hashedForm(s types.ServiceConfig) types.ServiceConfig {
	s.Build = nil
	s.PullPolicy = ""
	s.Scale = nil
	if s.Deploy != nil {
		// A copy, so the caller's project keeps its replica count.
		d := *s.Deploy
		d.Replicas = nil
		s.Deploy = &d
	}
	s.DependsOn = nil
	s.Profiles = nil
	return s
}

// NetworkHash is the config hash compose puts on a network it creates: a
// network whose definition no longer matches it has diverged.
func NetworkHash(n types.NetworkConfig) (string, error) {
	return configHash(n)
}

// VolumeHash is the config hash compose puts on a volume it creates; an
// unset driver is hashed by its name, "local", as compose does.
func VolumeHash(v types.VolumeConfig) (string, error) {
	if v.Driver == "" {
		v.Driver = "local"
	}
	return configHash(v)
}

// configHash is compose's hash of a network or volume definition: the
// SHA-256 of its JSON form.
func configHash(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
