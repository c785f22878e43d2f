package control

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a folder to another user")
	}
	base := t.TempDir()
	mk := func(name string, mode os.FileMode, uid int) string {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := mk("ok", 0o700, 0)
	// inside makes a folder of root's, mode 0700, in parent.
	inside := func(parent string) string {
		p := filepath.Join(parent, "data")
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(ok, link); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		want       []string // "" when fine
	}{
		{"root's, 0700", ok, nil},
		{"root's, 0755", mk("readable", 0o755, 0), nil},
		{"world-writable", mk("world", 0o777, 0), []string{"writable by its group and others (mode 0777)", "chown root:root", "chmod 700"}},
		{"sticky world-writable", mk("sticky", 0o1777, 0), []string{"writable by its group and others"}},
		{"group-writable", mk("group", 0o770, 0), []string{"writable by its group (mode 0770)"}},
		{"owned by nobody", mk("nobody", 0o700, 65534), []string{"owned by nobody (uid 65534)", "chown root:root " + filepath.Join(base, "nobody")}},
		{"a symlink to a good folder", link, []string{"is a symbolic link"}},
		{"root's, in a folder of nobody", inside(mk("nobodys", 0o755, 65534)), []string{"nobodys, which nobody (uid 65534) owns"}},
		{"root's, in a group-writable folder", inside(mk("shared", 0o775, 0)), []string{"shared, which is writable by its group (mode 0775)"}},
		{"root's, in a sticky folder", inside(mk("tmp", os.ModeSticky|0o777, 0)), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckDir("data dir", tc.path, false)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

func TestCheckDirMakesAMissingFolderPrivate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a", "data")
	if err := CheckDir("data dir", p, true); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("made with mode %04o, want 0700", fi.Mode().Perm())
	}
	if err := CheckDir("secrets dir", filepath.Join(t.TempDir(), "none"), false); err != nil {
		t.Fatalf("a missing secrets dir is fine: %v", err)
	}
}

func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		bad  bool
	}{{0o600, false}, {0o644, false}, {0o660, false}, {0o666, true}, {0o602, true}} {
		p := filepath.Join(dir, "key")
		os.Remove(p)
		if err := os.WriteFile(p, []byte("k"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		err := CheckFile("age_key_file", p)
		if tc.bad != (err != nil) {
			t.Errorf("mode %04o: %v", tc.mode, err)
		}
		if err != nil && !strings.Contains(err.Error(), "chmod o-w "+p) {
			t.Errorf("no fix in %v", err)
		}
	}
	if os.Geteuid() != 0 {
		return
	}
	p := filepath.Join(dir, "keys")
	if err := os.WriteFile(p, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := CheckFile("git.trusted_keys_file", p); err == nil || !strings.Contains(err.Error(), "owned by nobody (uid 65534)") {
		t.Errorf("a file another user owns: %v", err)
	}
}
