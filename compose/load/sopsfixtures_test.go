package load

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// sopsFixtures are the sops package's fixtures (see its testdata/sops/README.md).
const sopsFixtures = "../sops/testdata/sops"

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sopsFixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameYAML(got, want []byte) bool {
	var g, w any
	return yaml.Unmarshal(got, &g) == nil && yaml.Unmarshal(want, &w) == nil && reflect.DeepEqual(g, w)
}

func dropLine(s, prefix string) string {
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}
