package sops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The stores read files the way sops writes them, into sopsMaps in document
// order (the MAC depends on it), and write the decrypted tree back out as
// `sops decrypt` does: dotenv and binary byte for byte; YAML and JSON with
// the same content, comments dropped.

// parseSopsYAML reads every document; the metadata is the first
// document's top-level `sops`, and `sops` is removed from all of them.
func parseSopsYAML(data []byte) ([]sopsMap, sopsMap, error) {
	// Decoding into a map makes yaml.v3 refuse duplicate keys, as sops does.
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&map[string]any{}); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("not YAML: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var (
		docs []sopsMap
		meta sopsMap
	)
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("not YAML: %w", err)
		}
		v, err := yamlToSops(&n)
		if err != nil {
			return nil, nil, err
		}
		m, ok := v.(sopsMap)
		if v != nil && !ok {
			return nil, nil, errors.New("a YAML document that is not a mapping")
		}
		kept := m[:0:0]
		for _, it := range m {
			if it.key != "sops" {
				kept = append(kept, it)
				continue
			}
			if len(docs) == 0 {
				if meta, ok = it.value.(sopsMap); !ok {
					return nil, nil, errors.New("sops metadata is not a mapping")
				}
			}
		}
		docs = append(docs, kept)
	}
	return docs, meta, nil
}

func yamlToSops(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlToSops(n.Content[0])
	case yaml.AliasNode:
		return yamlToSops(n.Alias)
	case yaml.MappingNode:
		m := make(sopsMap, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			var k any
			if err := n.Content[i].Decode(&k); err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("line %d: key %v is not a string", n.Content[i].Line, k)
			}
			v, err := yamlToSops(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m = append(m, sopsItem{key, v})
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlToSops(c)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	switch v.(type) {
	case string, int, float64, bool, time.Time, nil:
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unsupported value type %T", n.Line, v)
}

// parseSopsJSON reads a JSON object in order, numbers as sops reads them.
func parseSopsJSON(data []byte) (sopsMap, sopsMap, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := jsonToSops(dec)
	if err != nil {
		return nil, nil, fmt.Errorf("not JSON: %w", err)
	}
	m, ok := v.(sopsMap)
	if !ok {
		return nil, nil, errors.New("not a JSON object")
	}
	var meta sopsMap
	kept := m[:0:0]
	for _, it := range m {
		if it.key == "sops" {
			if meta, ok = it.value.(sopsMap); !ok {
				return nil, nil, errors.New("sops metadata is not an object")
			}
			continue
		}
		kept = append(kept, it)
	}
	return kept, meta, nil
}

func jsonToSops(dec *json.Decoder) (any, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			var m sopsMap
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := jsonToSops(dec)
				if err != nil {
					return nil, err
				}
				m = append(m, sopsItem{k.(string), v})
			}
			_, err := dec.Token()
			return m, err
		case '[':
			l := []any{}
			for dec.More() {
				v, err := jsonToSops(dec)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := dec.Token()
			return l, err
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return int(i), nil
		}
		return t.Float64()
	}
	return t, nil
}

// parseSopsDotenv reads KEY=VALUE lines as sops does: no quotes, `\n` in a
// value is a newline, `#` lines are comments; sops_* keys are the metadata.
func parseSopsDotenv(data []byte) (sopsMap, sopsMap, error) {
	var m, flat sopsMap
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(string(line), "=")
		if !ok {
			return nil, nil, fmt.Errorf("line %d: not KEY=VALUE", i+1)
		}
		v = strings.ReplaceAll(v, `\n`, "\n")
		if name, meta := strings.CutPrefix(k, "sops_"); meta {
			flat = append(flat, sopsItem{name, v})
			continue
		}
		m = append(m, sopsItem{k, v})
	}
	if flat == nil {
		return m, nil, nil
	}
	meta, err := unflattenSops(flat)
	return m, meta, err
}

// unflattenSops rebuilds the metadata tree from keys like
// age__list_0__map_enc, as sops's unflattenTreeBranch does.
func unflattenSops(flat sopsMap) (sopsMap, error) {
	root := &flatNode{}
	for _, it := range flat {
		n := root
		for _, t := range flatTokens(it.key) {
			n = n.child(t)
		}
		if n.set {
			return nil, fmt.Errorf("duplicate key sops_%s", it.key)
		}
		n.value, n.set = it.value, true
	}
	v, err := root.tree()
	if err != nil {
		return nil, err
	}
	m, ok := v.(sopsMap)
	if !ok {
		return nil, errors.New("sops metadata is not a mapping")
	}
	return m, nil
}

// flatToken is a map key (a string) or a list index (an int).
type flatToken any

// flatTokens splits a flattened key at its __map_ and __list_ separators.
func flatTokens(key string) []flatToken {
	const mapSep, listSep = "__map_", "__list_"
	var out []flatToken
	sep, last := "", 0
	finish := func(i int) {
		part := key[last+len(sep) : i]
		if sep == listSep {
			n, _ := strconv.Atoi(part)
			out = append(out, n)
		} else {
			out = append(out, part)
		}
		last = i
	}
	for i := 0; i < len(key); {
		switch {
		case strings.HasPrefix(key[i:], mapSep):
			finish(i)
			sep = mapSep
			i += len(mapSep)
		case strings.HasPrefix(key[i:], listSep):
			finish(i)
			sep = listSep
			i += len(listSep)
		default:
			i++
		}
	}
	finish(len(key))
	return out
}

type flatNode struct {
	value any
	set   bool
	keys  map[string]*flatNode
	idx   map[int]*flatNode
}

func (n *flatNode) child(t flatToken) *flatNode {
	switch t := t.(type) {
	case int:
		if n.idx == nil {
			n.idx = map[int]*flatNode{}
		}
		if n.idx[t] == nil {
			n.idx[t] = &flatNode{}
		}
		return n.idx[t]
	default:
		k := t.(string)
		if n.keys == nil {
			n.keys = map[string]*flatNode{}
		}
		if n.keys[k] == nil {
			n.keys[k] = &flatNode{}
		}
		return n.keys[k]
	}
}

// tree converts the node: map keys sorted, lists complete from 0.
func (n *flatNode) tree() (any, error) {
	kinds := 0
	for _, b := range []bool{n.set, len(n.keys) > 0, len(n.idx) > 0} {
		if b {
			kinds++
		}
	}
	switch {
	case kinds > 1:
		return nil, errors.New("sops metadata: a key is both a value and a parent")
	case n.set:
		return n.value, nil
	case len(n.idx) > 0:
		l := make([]any, len(n.idx))
		for i := range l {
			c, ok := n.idx[i]
			if !ok {
				return nil, errors.New("sops metadata: incomplete list")
			}
			v, err := c.tree()
			if err != nil {
				return nil, err
			}
			l[i] = v
		}
		return l, nil
	}
	keys := make([]string, 0, len(n.keys))
	for k := range n.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := make(sopsMap, 0, len(keys))
	for _, k := range keys {
		v, err := n.keys[k].tree()
		if err != nil {
			return nil, err
		}
		m = append(m, sopsItem{k, v})
	}
	return m, nil
}

// Plaintext is the decrypted file as `sops decrypt` prints it.
func (d *Doc) Plaintext() ([]byte, error) {
	switch d.Store {
	case Binary:
		v, _ := d.branches[0].get("data")
		s, ok := v.(string)
		if !ok {
			return nil, errors.New(`"data" is not a string`)
		}
		return []byte(s), nil
	case Dotenv:
		return d.Dotenv(func(v any) string {
			if s, ok := v.(string); ok {
				return strings.ReplaceAll(s, "\n", `\n`)
			}
			return fmt.Sprint(v)
		}), nil
	case JSON:
		var b bytes.Buffer
		writeSopsJSON(&b, d.branches[0], "")
		b.WriteByte('\n')
		return b.Bytes(), nil
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(4)
	for _, m := range d.branches {
		if err := enc.Encode(sopsYAMLNode(m)); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Dotenv renders a dotenv document, value rendering each value.
func (d *Doc) Dotenv(value func(any) string) []byte {
	var b bytes.Buffer
	for _, it := range d.branches[0] {
		fmt.Fprintf(&b, "%s=%s\n", it.key, value(it.value))
	}
	return b.Bytes()
}

func sopsYAMLNode(v any) *yaml.Node {
	switch v := v.(type) {
	case sopsMap:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, it := range v {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: it.key}, sopsYAMLNode(it.value))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range v {
			n.Content = append(n.Content, sopsYAMLNode(e))
		}
		return n
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)}
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(v, 'g', -1, 64)}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	case time.Time:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!timestamp", Value: v.Format(time.RFC3339Nano)}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
}

func writeSopsJSON(b *bytes.Buffer, v any, indent string) {
	in := indent + "\t"
	switch v := v.(type) {
	case sopsMap:
		if len(v) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, it := range v {
			b.WriteString(in)
			writeJSONString(b, it.key)
			b.WriteString(": ")
			writeSopsJSON(b, it.value, in)
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if len(v) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range v {
			b.WriteString(in)
			writeSopsJSON(b, e, in)
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	case string:
		writeJSONString(b, v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case time.Time:
		writeJSONString(b, v.Format(time.RFC3339Nano))
	default:
		b.WriteString("null")
	}
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Truncate(b.Len() - 1)
}
