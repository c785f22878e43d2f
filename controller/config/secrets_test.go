package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const canary = "canary-7f3a9"

func TestReadSecrets(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	password := filepath.Join(dir, "password")
	keys := filepath.Join(dir, "keys.asc")
	writeFile(t, token, canary+"\n")
	writeFile(t, password, canary+"-pw\r\n")
	writeFile(t, keys, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n")
	c := Default()
	c.Git.TokenFile, c.Git.PasswordFile, c.Git.TrustedKeysFile = token, password, keys
	s, err := c.ReadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	if s.Token != canary || s.Password != canary+"-pw" || !strings.HasSuffix(s.TrustedKeys, "BLOCK-----") {
		t.Fatalf("secrets not read as written")
	}

	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("auth", "secrets", s)
	js, _ := json.Marshal(s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), logged.String(), string(js)} {
		if strings.Contains(out, canary) {
			t.Errorf("printed secrets leak: %s", out)
		}
		if !strings.Contains(out, "set") {
			t.Errorf("printed secrets say nothing: %s", out)
		}
	}
}

func TestReadSecretsErrors(t *testing.T) {
	dir := t.TempDir()
	twoLines := filepath.Join(dir, "two-lines")
	writeFile(t, twoLines, canary+"\n"+canary+"\n")
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, "\n")
	unreadable := filepath.Join(dir, "unreadable")
	writeFile(t, unreadable, canary)
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		git  Git
		want string
	}{
		{"two lines", Git{TokenFile: twoLines}, "git.token_file: " + twoLines + " has more than one line"},
		{"empty", Git{PasswordFile: empty}, "git.password_file: " + empty + " is empty"},
		{"missing", Git{TrustedKeysFile: filepath.Join(dir, "nope")}, "git.trusted_keys_file: open " + filepath.Join(dir, "nope")},
		{"unreadable", Git{TokenFile: unreadable}, "git.token_file: open " + unreadable + ": permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unreadable" && os.Geteuid() == 0 {
				t.Skip("root reads any file")
			}
			c := Default()
			c.Git = tc.git
			_, err := c.ReadSecrets()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}
