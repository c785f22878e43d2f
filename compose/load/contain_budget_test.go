package load

import (
	"fmt"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/compose/budget"
)

// aliasBomb is a compose file with levels of ten aliases of the level
// below, under an extension field compose-go expands.
func aliasBomb(levels int) string {
	var b strings.Builder
	b.WriteString("x-l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "x-l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	b.WriteString("services:\n  api:\n    image: example/api:1.0\n")
	return b.String()
}

// includeGraph writes levels of two files, each including both files of
// the next level: compose-go reads the last level 2^levels times.
func includeGraphFiles(levels int) map[string]string {
	files := map[string]string{"compose.yaml": "include: [l1a.yaml, l1b.yaml]\nservices:\n  api:\n    image: example/api:1.0\n"}
	for i := 1; i <= levels; i++ {
		body := "services: {}\n"
		if i < levels {
			body = fmt.Sprintf("include: [l%da.yaml, l%db.yaml]\n", i+1, i+1)
		}
		files[fmt.Sprintf("l%da.yaml", i)] = body
		files[fmt.Sprintf("l%db.yaml", i)] = body
	}
	return files
}

func includeChainFiles(n int) map[string]string {
	files := map[string]string{"compose.yaml": "include: [c1.yaml]\nservices:\n  api:\n    image: example/api:1.0\n"}
	for i := 1; i <= n; i++ {
		body := "services: {}\n"
		if i < n {
			body = fmt.Sprintf("include: [c%d.yaml]\n", i+1)
		}
		files[fmt.Sprintf("c%d.yaml", i)] = body
	}
	return files
}

func TestStackInputsOverBudgetAreRefused(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"alias bomb", map[string]string{"compose.yaml": aliasBomb(10)},
			"compose.yaml is over the budget of 100000 expanded nodes"},
		{"exponential include graph", includeGraphFiles(14),
			"over the budget of 200 compose files read through include and extends"},
		{"include chain", includeChainFiles(300),
			"c20.yaml is over the budget of 20 levels of include and extends"},
		{"two documents", map[string]string{"compose.yaml": "services: {}\n---\nservices: {}\n"},
			"compose.yaml is over the budget of 1 documents"},
		{"sops file with a bomb in its second document", map[string]string{
			"compose.yaml":   "services:\n  api:\n    image: example/api:1.0\n    secrets: [s]\nsecrets:\n  s:\n    file: data.sops.yaml\n",
			"data.sops.yaml": "sops:\n  mac: x\n---\n" + strings.Replace(aliasBomb(10), "services:\n  api:\n    image: example/api:1.0\n", "", 1)},
			"data.sops.yaml is over the budget of 100000 expanded nodes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newHostStack(t)
			s.write(t, tc.files)
			err := s.load()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("load: %v\nwant an error holding %q", err, tc.want)
			}
			if !IsLoadError(err) || !budget.IsError(err) {
				t.Errorf("not a load error over a budget: %#v", err)
			}
		})
	}
}

func TestIncludeGraphsWithinBudgetLoad(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"six levels of two": includeGraphFiles(6),
		"a chain of 18":     includeChainFiles(18),
	} {
		t.Run(name, func(t *testing.T) {
			s := newHostStack(t)
			s.write(t, files)
			if err := s.load(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestReadSettingsRefusesAnAliasBomb(t *testing.T) {
	s := newHostStack(t)
	s.write(t, map[string]string{"compose.yaml": aliasBomb(10) + "x-berth:\n  hosts: *l9\n"})
	_, err := ReadSettings(s.dir, "")
	if !budget.IsError(err) || !strings.Contains(err.Error(), "compose.yaml") {
		t.Fatalf("ReadSettings: %v", err)
	}
}

// BenchmarkLoadRefusesOverBudget is the time a load takes to refuse each
// stack over a budget: what one bomb commit costs the loop.
func BenchmarkLoadRefusesOverBudget(b *testing.B) {
	cases := []struct {
		name  string
		files map[string]string
	}{
		{"alias-bomb", map[string]string{"compose.yaml": aliasBomb(10)}},
		{"exponential-include-graph", includeGraphFiles(14)},
		{"include-chain-300", includeChainFiles(300)},
		{"sops-second-document-bomb", map[string]string{
			"compose.yaml":   "services:\n  api:\n    image: example/api:1.0\n    secrets: [s]\nsecrets:\n  s:\n    file: data.sops.yaml\n",
			"data.sops.yaml": "sops:\n  mac: x\n---\n" + strings.Replace(aliasBomb(10), "services:\n  api:\n    image: example/api:1.0\n", "", 1)}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s := newHostStack(b)
			s.write(b, tc.files)
			for b.Loop() {
				if err := s.load(); !budget.IsError(err) {
					b.Fatalf("load: %v", err)
				}
			}
		})
	}
}
