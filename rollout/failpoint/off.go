//go:build !failpoints

package failpoint

// Inject does nothing without the failpoints build tag.
func Inject(string) {}
