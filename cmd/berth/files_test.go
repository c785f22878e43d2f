package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLintRefusesHostFiles: the CLI loads a local folder as the stack
// folder, with the same containment as berth run: a stack naming a host
// file does not load, and the file's content shows nowhere.
func TestLintRefusesHostFiles(t *testing.T) {
	host := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(host, []byte("root:"+lintCanary+":19000::::::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := "services:\n  web:\n" + lintClean
	repo := writeTree(t, map[string]string{
		"stacks/env/compose.yaml":    svc + "    env_file: [" + host + "]\n",
		"stacks/proc/compose.yaml":   svc + "    env_file: [/proc/self/environ]\n",
		"stacks/secret/compose.yaml": svc + "    secrets: [s]\nsecrets:\n  s:\n    file: " + host + "\n",
		"stacks/bind/compose.yaml":   svc + "    volumes: [\"../..:/data:ro\"]\n",
	})
	code, out, errOut := runLint(t, repo)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	for _, want := range []string{
		`service "web": env_file ` + host + ` is outside the stack folder`,
		`service "web": env_file /proc/self/environ is outside the stack folder`,
		`secret "s": file ` + host + ` is outside the stack folder`,
		`service "web": volumes ` + repo + ` is outside the stack folder`,
	} {
		if !strings.Contains(out+errOut, want) {
			t.Errorf("lint does not say %q:\n%s\n%s", want, out, errOut)
		}
	}
	if strings.Contains(out+errOut, lintCanary) {
		t.Errorf("lint shows the host file's content:\n%s\n%s", out, errOut)
	}
}
