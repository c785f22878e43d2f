package budget

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzCheck: Check never panics, and a stream it lets through decodes into
// no more values, and no deeper, than the budget allows.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"a: 1\n", bomb(3), "a: &a {b: 1}\nc: {<<: *a}\n", "a: &a [*a]\n", "[[[[]]]]", "a: 1\n---\nb: 2\n"} {
		f.Add([]byte(s))
	}
	b := YAML{Bytes: 1 << 16, Documents: 4, Nodes: 2000, Depth: 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		if Check("f.yaml", data, b) != nil {
			return
		}
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return
		}
		if n, d := size(v); n > b.Nodes || d > b.Depth {
			t.Fatalf("within the budget, but decodes to %d values %d deep", n, d)
		}
	})
}

// size counts the values of a decoded document and its depth.
func size(v any) (int64, int) {
	n, depth := int64(1), 0
	add := func(c any) {
		cn, cd := size(c)
		n += cn
		depth = max(depth, cd)
	}
	switch v := v.(type) {
	case map[string]any:
		for _, c := range v {
			n++
			add(c)
		}
		depth++
	case map[any]any:
		for _, c := range v {
			n++
			add(c)
		}
		depth++
	case []any:
		for _, c := range v {
			add(c)
		}
		depth++
	}
	return n, depth
}
