package compose

// The probe defaults, for the external tests.
const (
	DefaultProbeTimeout = defaultProbeTimeout
	DefaultProbeRetries = defaultProbeRetries
)
