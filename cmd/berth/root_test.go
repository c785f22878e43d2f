package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "shop")
	bad := filepath.Join(dir, "broken")
	for _, d := range []string{good, bad} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(good, "compose.yaml"), "services:\n  web:\n    image: example/web:1.4\n    environment:\n      DB_PASSWORD: hunter2\n")
	write(filepath.Join(bad, "compose.yaml"), "services:\n  web:\n    image: example/web:1.4\n    colour: red\n")

	cases := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{args: []string{"version"}, code: 0, stdout: "berth "},
		{args: []string{"--log-format", "xml", "version"}, code: 2, stderr: `--log-format: "xml"`},
		{args: []string{"--log-level", "loud", "version"}, code: 2, stderr: `--log-level: "loud"`},
		{args: []string{"plan", "--no-such-flag", good}, code: 2, stderr: "unknown flag"},
		{args: []string{"config", good}, code: 0, stdout: "DB_PASSWORD: '********'"},
		{args: []string{"config", "--show-values", good}, code: 0, stdout: "hunter2"},
		{args: []string{"config", "--hash", good}, code: 0, stdout: "web "},
		{args: []string{"config", bad}, code: 2, stderr: "colour"},
		{args: []string{"apply", bad}, code: 2, stderr: "(compose.yaml)"},
		{args: []string{"config", filepath.Join(dir, "missing")}, code: 2, stderr: "no compose file"},
		{args: []string{"apply", "--settle", "-1s", good}, code: 2, stderr: "--settle: -1s is negative"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout does not contain %q:\n%s", tc.stdout, out.String())
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tc.stderr, errb.String())
			}
		})
	}
}

func TestMaskedConfigNeverShowsValues(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  web:\n    image: example/web:1.4\n    env_file: app.env\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.env"), []byte("API_TOKEN=canary-7f3a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"config", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if strings.Contains(out.String()+errb.String(), "canary-7f3a") {
		t.Errorf("config printed a value from an env_file:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "API_TOKEN") {
		t.Errorf("config dropped the variable's name:\n%s", out.String())
	}
}
