//go:build !unix

package testenv

// lockImages does not lock where flock is missing; parallel test processes
// may then build one tag twice.
func lockImages() (unlock func(), err error) { return func() {}, nil }
