package sops

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"filippo.io/age"
	"go.yaml.in/yaml/v3"
)

// The fixtures in testdata/sops were made with the sops CLI v3.13.3 from
// the files in testdata/sops/plain and the test-only key testdata/sops/key.txt
// (see testdata/sops/README.md).

const sopsFixtures = "testdata/sops"

func fixtureIDs(t *testing.T) []age.Identity {
	t.Helper()
	ids, err := ReadAgeIdentities(filepath.Join(sopsFixtures, "key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sopsFixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSopsFixturesDecrypt(t *testing.T) {
	ids := fixtureIDs(t)
	for _, tc := range []struct {
		file, plain string
		same        func(got, want []byte) bool
	}{
		{"app.sops.env", "app.env", func(got, want []byte) bool {
			// sops prints comments back; berth leaves them out.
			var lines []string
			for _, l := range strings.SplitAfter(string(want), "\n") {
				if !strings.HasPrefix(l, "#") {
					lines = append(lines, l)
				}
			}
			return string(got) == strings.Join(lines, "")
		}},
		{"config.sops.yaml", "config.yaml", sameYAML},
		{"partial.sops.yaml", "partial.yaml", sameYAML},
		{"config.sops.json", "config.json", func(got, want []byte) bool {
			var g, w any
			return json.Unmarshal(got, &g) == nil && json.Unmarshal(want, &w) == nil && reflect.DeepEqual(g, w)
		}},
		{"tls.key", "tls.key", bytes.Equal},
	} {
		got, err := decryptSops(tc.file, readFixture(t, tc.file), ids)
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if want := readFixture(t, "plain/"+tc.plain); !tc.same(got, want) {
			t.Errorf("%s decrypts to\n%s\nwant (as sops decrypt)\n%s", tc.file, got, want)
		}
	}
}

func sameYAML(got, want []byte) bool {
	var g, w any
	return yaml.Unmarshal(got, &g) == nil && yaml.Unmarshal(want, &w) == nil && reflect.DeepEqual(g, w)
}

func TestSopsWrongKey(t *testing.T) {
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"app.sops.env", "config.sops.yaml", "tls.key"} {
		_, err := decryptSops(f, readFixture(t, f), []age.Identity{other})
		if err == nil || !strings.Contains(err.Error(), "no age key given can decrypt it (its recipients: age1") {
			t.Errorf("%s with another key: %v", f, err)
		}
	}
}

func TestSopsRefusesAlteredFiles(t *testing.T) {
	ids := fixtureIDs(t)
	for _, tc := range []struct {
		name, file string
		alter      func(string) string
		want       string
	}{
		{"a clear value changed", "config.sops.yaml", func(s string) string {
			return strings.Replace(s, "host_unencrypted: db.internal", "host_unencrypted: db.evil", 1)
		}, "MAC mismatch"},
		{"a value removed", "app.sops.env", func(s string) string {
			return dropLine(s, "GREETING=")
		}, "MAC mismatch"},
		{"a value moved to another key", "app.sops.env", func(s string) string {
			pw, url := lineValue(s, "DB_PASSWORD="), lineValue(s, "DB_URL=")
			s = strings.Replace(s, "DB_PASSWORD="+pw, "DB_PASSWORD="+url, 1)
			return strings.Replace(s, "DB_URL="+url, "DB_URL="+pw, 1)
		}, "value at DB_PASSWORD: does not decrypt"},
		{"ciphertext changed", "config.sops.json", func(s string) string {
			i := strings.Index(s, `"token": "ENC[AES256_GCM,data:`) + len(`"token": "ENC[AES256_GCM,data:`)
			c := byte('A')
			if s[i] == 'A' {
				c = 'B'
			}
			return s[:i] + string(c) + s[i+1:]
		}, "value at api.token: does not decrypt"},
		{"lastmodified changed", "config.sops.yaml", func(s string) string {
			return strings.Replace(s, `lastmodified: "2026`, `lastmodified: "2027`, 1)
		}, "MAC does not decrypt"},
		{"the mac removed", "tls.key", func(s string) string {
			return dropLine(s, `"mac":`)
		}, ""},
	} {
		altered := tc.alter(string(readFixture(t, tc.file)))
		if altered == string(readFixture(t, tc.file)) {
			t.Fatalf("%s: the change did not apply", tc.name)
		}
		_, err := decryptSops(tc.file, []byte(altered), ids)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "canary") {
			t.Errorf("%s: the error shows a value: %v", tc.name, err)
		}
	}
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

func lineValue(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return v
		}
	}
	return ""
}

func TestSopsDetection(t *testing.T) {
	for _, tc := range []struct {
		path string
		data string
		want bool
	}{
		{"tls.key", string(readFixture(t, "tls.key")), true},
		{"app.sops.env", string(readFixture(t, "app.sops.env")), true},
		{"config.yaml", string(readFixture(t, "config.sops.yaml")), true},
		{"config.yaml", string(readFixture(t, "plain/config.yaml")), false},
		{"notes.txt", "the sops mac is fine\n", false},
		{"app.env", "sops_mac=x\n", true},
		{"app.env", "sops_version=1\nA=1\n", false},
	} {
		if got := IsFile(tc.path, []byte(tc.data)); got != tc.want {
			t.Errorf("IsFile(%s) = %v, want %v", tc.path, got, tc.want)
		}
	}
	for path, want := range map[string]bool{"app.sops.env": true, ".sops.env": true, "db.sops.yaml": true,
		"tls.sops": true, ".sops.yaml": false, "app.env": false, "sops.env": false} {
		if Named(path) != want {
			t.Errorf("Named(%s) = %v", path, !want)
		}
	}
}

func TestSopsFlattenedMetadata(t *testing.T) {
	m, err := unflattenSops(sopsMap{
		{"age__list_1__map_recipient", "r2"}, {"age__list_0__map_enc", "e1"},
		{"age__list_0__map_recipient", "r1"}, {"age__list_1__map_enc", "e2"},
		{"lastmodified", "2026-01-02T03:04:05Z"}, {"mac", "m"},
	})
	if err != nil {
		t.Fatal(err)
	}
	md, err := parseSopsMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	want := []sopsAgeKey{{"r1", "e1"}, {"r2", "e2"}}
	if !reflect.DeepEqual(md.age, want) {
		t.Errorf("age keys %+v, want %+v", md.age, want)
	}
	if _, err := unflattenSops(sopsMap{{"age__list_1__map_enc", "e"}}); err == nil {
		t.Error("a list without element 0 unflattens")
	}
}

func TestAgeKeyFileErrorsHideKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(path, []byte("# comment\nAGE-SECRET-KEY-1NOTAKEYCANARY77\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadAgeIdentities(path)
	if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "CANARY77") {
		t.Errorf("error %v: want the file named and no key", err)
	}
}
