// Package compare tells what changes between two commits of an infra
// repository, stack by stack and service by service, without an engine:
// the fields that recreate containers, environment names (never values),
// networks, volumes and replicas. It backs berth diff.
package compare
