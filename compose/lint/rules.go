package lint

import "slices"

// Severity is how much a finding matters: an error fails `berth lint` and
// stalls a deploy; a warning and an info are reported.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
	// SeverityOff, in a policy, turns a rule off.
	SeverityOff Severity = "off"
)

// rank orders severities, most severe first.
func (s Severity) rank() int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	case SeverityInfo:
		return 2
	}
	return 3
}

// The rule ids. They are stable: policies and exceptions name them.
const (
	RuleFloatingTag     = "floating-tag"
	RuleImageNotDigest  = "image-not-digest"
	RuleNoHealthcheck   = "no-healthcheck"
	RuleNoRestartPolicy = "no-restart-policy"
	RuleNoLogRotation   = "no-log-rotation"
	RuleNoMemoryLimit   = "no-memory-limit"
	RuleSecretLiteral   = "secret-literal"
	RuleBuild           = "build-in-stack"
	// RuleLoad is not a rule: it marks a stack that does not load, so it
	// cannot be linted. No policy changes it.
	RuleLoad = "load"
)

// Rule describes one check.
type Rule struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"` // the default
	Summary  string   `json:"summary"`
	Why      string   `json:"why"`
	// Aliases are former ids that policies may still name.
	Aliases []string `json:"aliases,omitempty"`
}

var rules = []Rule{
	mk(RuleFloatingTag, SeverityError, "image tag is `latest` or missing (and no digest)",
		"a floating tag deploys whatever the registry holds today: the same commit is not the same deploy, and a rollback does not bring the old image back"),
	mk(RuleImageNotDigest, SeverityInfo, "image is not pinned by digest (name:tag@sha256:...)",
		"a tag can be pushed again; only a digest names exactly one image"),
	mk(RuleNoHealthcheck, SeverityWarning, "no healthcheck (or disabled) on a service that publishes ports or that others depend on",
		"without one, started is not ready: dependents and verification cannot wait for the service to serve. An image's own HEALTHCHECK is not visible here: write it in the file, or except the service"),
	mk(RuleNoRestartPolicy, SeverityWarning, "no restart policy (restart: or deploy.restart_policy)",
		"a crashed container, or every container after a host reboot, stays down; write restart: \"no\" for a one-shot job"),
	mk(RuleNoLogRotation, SeverityWarning, "json-file or local logging (or none set: the engine's default json-file) without logging.options.max-size",
		"json-file logs grow until the disk is full; an explicit max-size keeps the disk budget in Git (the local driver rotates at 20m by default, but the size should be a decision)"),
	mk(RuleNoMemoryLimit, SeverityWarning, "no memory limit (mem_limit or deploy.resources.limits.memory)",
		"one leaking container can take the host's memory and get other services killed"),
	mk(RuleSecretLiteral, SeverityError, "secret-looking literal value in environment, labels or an env file",
		"a secret in Git is readable by everyone who can read the repository, forever; take it from the host (${VAR}, an env template). Keys named like *PASSWORD*, *SECRET*, *TOKEN*, *API_KEY*, *PRIVATE_KEY* with a literal value, and values shaped like AWS keys, private keys, GitHub, GitLab and Slack tokens, or credentials in URLs. The value is never printed"),
	mk(RuleBuild, SeverityWarning, "build: in a stack",
		"berth never builds: it runs the image, so the build section is dead weight that suggests otherwise; build in CI and pin the result"),
}

func mk(id string, sev Severity, summary, why string) Rule {
	return Rule{ID: id, Severity: sev, Summary: summary, Why: why}
}

// Rules lists every rule with its default severity, in a stable order.
func Rules() []Rule {
	return slices.Clone(rules)
}

func ruleByID(id string) (Rule, bool) {
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}
