package lint

import (
	"fmt"
	"path"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// checker collects the findings of one stack.
type checker struct {
	p          *types.Project
	src        Sources
	stack      string
	dependedOn map[string]bool
	out        []Finding
	// reported holds the YAML nodes a secret finding already names, so
	// that the shape scan does not report them twice.
	reported map[*yaml.Node]bool
}

// add records a finding about a service field, located in the files.
func (c *checker) add(rule, service, field, format string, args ...any) {
	file, line := c.src.locate(service, field)
	c.addAt(rule, service, field, file, line, format, args...)
}

func (c *checker) addAt(rule, service, field, file string, line int, format string, args ...any) {
	r, _ := ruleByID(rule)
	msg := fmt.Sprintf(format, args...)
	if service != "" {
		msg = fmt.Sprintf("service %q: %s", service, msg)
	}
	c.out = append(c.out, Finding{
		Rule: rule, Severity: r.Severity, Stack: c.stack, Service: service,
		Field: field, File: file, Line: line, Message: msg,
	})
}

// service runs the rules that read the loaded model.
func (c *checker) service(name string, s types.ServiceConfig) {
	c.image(name, s.Image)
	c.healthcheck(name, s)
	if s.Restart == "" && (s.Deploy == nil || s.Deploy.RestartPolicy == nil) {
		c.add(RuleNoRestartPolicy, name, "restart", "no restart policy; set restart: unless-stopped (or \"no\" for a one-shot job)")
	}
	c.logging(name, s.Logging)
	if !hasMemoryLimit(s) {
		c.add(RuleNoMemoryLimit, name, "deploy.resources.limits.memory", "no memory limit; set deploy.resources.limits.memory or mem_limit")
	}
	if s.Build != nil {
		c.add(RuleBuild, name, "build", "has a build section; berth never builds, it runs image %s: build in CI and remove build:", s.Image)
	}
}

func (c *checker) image(name, image string) {
	ref, digest, _ := strings.Cut(image, "@")
	tag := ""
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		tag = ref[i+1:]
	}
	if digest != "" {
		return
	}
	switch tag {
	case "":
		c.add(RuleFloatingTag, name, "image", "image %s has no tag, so it floats as latest; pin a version", image)
	case "latest":
		c.add(RuleFloatingTag, name, "image", "image %s uses a floating tag; pin a version", image)
	default:
		c.add(RuleImageNotDigest, name, "image", "image %s is not pinned by digest; a tag can be pushed again", image)
	}
}

func (c *checker) healthcheck(name string, s types.ServiceConfig) {
	var why string
	switch {
	case len(s.Ports) > 0 && c.dependedOn[name]:
		why = "publishes ports and other services depend on it"
	case len(s.Ports) > 0:
		why = "publishes ports"
	case c.dependedOn[name]:
		why = "other services depend on it"
	default:
		return
	}
	h := s.HealthCheck
	switch {
	case h == nil:
		c.add(RuleNoHealthcheck, name, "healthcheck", "%s but has no healthcheck, so started is not ready; add one", why)
	case h.Disable || (len(h.Test) > 0 && h.Test[0] == "NONE"):
		c.add(RuleNoHealthcheck, name, "healthcheck", "%s but its healthcheck is disabled, so started is not ready", why)
	}
}

func (c *checker) logging(name string, l *types.LoggingConfig) {
	driver := "json-file" // the engine's default; daemon.json may differ, the file cannot tell
	if l != nil && l.Driver != "" {
		driver = l.Driver
	}
	if driver != "json-file" && driver != "local" {
		return
	}
	if l != nil && l.Options["max-size"] != "" {
		return
	}
	what := "logging driver " + driver
	if l == nil || l.Driver == "" {
		what = "the default logging driver (json-file)"
	}
	c.add(RuleNoLogRotation, name, "logging.options.max-size", "%s without max-size: logs are not rotated by size; set logging.options.max-size and max-file", what)
}

func hasMemoryLimit(s types.ServiceConfig) bool {
	if s.MemLimit > 0 {
		return true
	}
	return s.Deploy != nil && s.Deploy.Resources.Limits != nil && s.Deploy.Resources.Limits.MemoryBytes > 0
}

// volumeTarget is the container path of a volumes item as written.
func volumeTarget(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		parts := strings.Split(n.Value, ":")
		if len(parts) >= 2 {
			return path.Clean(parts[1])
		}
		return path.Clean(parts[0])
	case yaml.MappingNode:
		if _, t := get(n, "target"); t != nil {
			return path.Clean(t.Value)
		}
	}
	return ""
}
