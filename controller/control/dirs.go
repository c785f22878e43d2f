package control

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// CheckDir refuses a folder that another user could change under berth:
// a symlink, a folder owned by someone other than berth's user or root,
// or one writable by its group or others. what names the setting
// ("data dir"). A missing folder is made, mode 0700, when create is set,
// and is no problem otherwise.
func CheckDir(what, path string, create bool) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil
		}
		if err := os.MkdirAll(path, 0o700); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		fi, err = os.Lstat(path)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	fix := fmt.Sprintf("fix: chown %s %s && chmod 700 %s", ownerSpec(), path, path)
	switch uid := ownerOf(fi); {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s %s is a symbolic link: berth trusts only a real folder; set the setting to the folder itself (readlink -f %s), after checking who owns it", what, path, path)
	case !fi.IsDir():
		return fmt.Errorf("%s %s is %s, not a folder", what, path, kind(fi))
	case uid != os.Geteuid() && uid != 0:
		return fmt.Errorf("%s %s is owned by %s, not by berth's user or root: that user could change what berth reads and writes there; %s", what, path, userName(uid), fix)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s %s is writable by %s (mode %04o): other users could change what berth reads and writes there; %s", what, path, writers(fi.Mode()), fi.Mode().Perm(), fix)
	}
	return checkParents(what, path)
}

// checkParents refuses a folder that another user can move aside and
// replace: one of the folders above it, as written or with symlinks
// resolved, is owned by another user, or writable by group or others
// without the sticky bit.
func checkParents(what, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	chains := []string{filepath.Dir(abs)}
	if real, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		chains = append(chains, real)
	}
	for _, dir := range chains {
		for ; ; dir = filepath.Dir(dir) {
			fi, err := os.Stat(dir)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			switch uid := ownerOf(fi); {
			case uid != os.Geteuid() && uid != 0:
				return fmt.Errorf("%s %s is inside %s, which %s owns: that user could replace it; move it to a folder of berth's user or root", what, path, dir, userName(uid))
			case fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0:
				return fmt.Errorf("%s %s is inside %s, which is writable by %s (mode %04o): other users could replace it; move it or chmod go-w %s", what, path, dir, writers(fi.Mode()), fi.Mode().Perm(), dir)
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	return nil
}

// CheckFile refuses a credential file that any user may write, or that
// another user owns: whoever can write the age key, a known_hosts or
// trusted keys file decides what berth trusts. what names the setting ("git.password_file").
func CheckFile(what, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return fmt.Errorf("%s %s is writable by others (mode %04o); fix: chmod o-w %s (0600 for a secret)", what, path, fi.Mode().Perm(), path)
	}
	if uid := ownerOf(fi); uid != os.Geteuid() && uid != 0 {
		return fmt.Errorf("%s %s is owned by %s, who may rewrite it; fix: chown %s %s", what, path, userName(uid), ownerSpec(), path)
	}
	return nil
}

func writers(m fs.FileMode) string {
	switch {
	case m&0o020 != 0 && m&0o002 != 0:
		return "its group and others"
	case m&0o020 != 0:
		return "its group"
	}
	return "others"
}

// ownerSpec is berth's user and group as chown takes them: root:root.
func ownerSpec() string {
	u, g := strconv.Itoa(os.Geteuid()), strconv.Itoa(os.Getegid())
	if pu, err := user.LookupId(u); err == nil {
		u = pu.Username
	}
	if pg, err := user.LookupGroupId(g); err == nil {
		g = pg.Name
	}
	return u + ":" + g
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("%s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}
