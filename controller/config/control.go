package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// maxSocketPath is the longest path a Unix socket binds on Linux.
const maxSocketPath = 107

// controlProblems checks the control socket's settings and the allowed
// host names.
func (c *Config) controlProblems() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if s := c.ControlSocket(); !filepath.IsAbs(s) {
		add("control.socket: %q is not an absolute path", s)
	} else if len(s) > maxSocketPath {
		add("control.socket: %q is %d bytes long; a Unix socket's path may be %d", s, len(s), maxSocketPath)
	}
	if _, err := c.ControlGID(); err != nil {
		errs = append(errs, err)
	}
	for _, h := range c.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ \t*") {
			add("allowed_hosts: %q is not a host name (like berth.example.com, without scheme, path or wildcard)", h)
		}
	}
	return errs
}
