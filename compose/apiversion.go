package compose

import "fmt"

// VersionLess compares two "major.minor" API versions.
func VersionLess(a, b string) bool {
	var amaj, amin, bmaj, bmin int
	_, _ = fmt.Sscanf(a, "%d.%d", &amaj, &amin)
	_, _ = fmt.Sscanf(b, "%d.%d", &bmaj, &bmin)
	return amaj < bmaj || (amaj == bmaj && amin < bmin)
}
