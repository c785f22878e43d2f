// Package gittest runs real git for tests: work repositories made with the
// git CLI, a smart HTTP server over git http-backend, an SSH server that runs
// git-upload-pack, and OpenPGP keys to sign commits with. Every git call
// runs with an empty HOME and no system or global config, so the tests see
// neither the developer's nor the CI machine's settings.
package gittest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// configArgs are passed to every git call instead of a config file.
var configArgs = []string{
	"-c", "user.name=Berth Test",
	"-c", "user.email=test@berth.invalid",
	"-c", "commit.gpgsign=false",
	"-c", "tag.gpgsign=false",
	"-c", "init.defaultBranch=main",
	"-c", "protocol.file.allow=always",
	"-c", "core.autocrlf=false",
	"-c", "advice.detachedHead=false",
}

// Env is the environment of every git process: the caller's, minus any
// GIT_* variable, with HOME pointing at home and config files disabled.
func Env(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") || k == "HOME" || k == "XDG_CONFIG_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"XDG_CONFIG_HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
	)
}

// Git runs git in dir ("" for the current one) and returns its trimmed
// stdout; it fails the test when git fails.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return gitIn(t, dir, nil, args...)
}

func gitIn(t testing.TB, dir string, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append(append([]string{}, configArgs...), args...)...)
	cmd.Dir = dir
	cmd.Env = Env(home(t))
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

// homes holds, per test, an empty directory that stands in for $HOME.
var homes sync.Map // testing.TB -> string

func home(t testing.TB) string {
	if h, ok := homes.Load(t); ok {
		return h.(string)
	}
	h, loaded := homes.LoadOrStore(t, t.TempDir())
	if !loaded {
		t.Cleanup(func() { homes.Delete(t) })
	}
	return h.(string)
}

// Work is a work tree made with the git CLI whose origin is a bare
// repository on disk, so pushes go through the filesystem.
type Work struct {
	t      testing.TB
	Dir    string // the work tree
	Remote string // the bare repository that origin points at
}

// NewRepo makes a work repository on branch main with its own bare remote,
// both in t.TempDir().
func NewRepo(t testing.TB) *Work {
	t.Helper()
	root := t.TempDir()
	bare := filepath.Join(root, "remote.git")
	Git(t, "", "init", "-q", "--bare", bare)
	return newWork(t, filepath.Join(root, "work"), bare)
}

func newWork(t testing.TB, dir, bare string) *Work {
	t.Helper()
	Git(t, "", "init", "-q", dir)
	w := &Work{t: t, Dir: dir, Remote: bare}
	w.Run("remote", "add", "origin", bare)
	return w
}

// Run runs git in the work tree and returns its trimmed stdout.
func (w *Work) Run(args ...string) string {
	w.t.Helper()
	return Git(w.t, w.Dir, args...)
}

// Write writes a file (mode 0644), creating its folders.
func (w *Work) Write(path, content string) { w.t.Helper(); w.write(path, content, 0o644) }

// WriteExec writes an executable file (mode 0755).
func (w *Work) WriteExec(path, content string) { w.t.Helper(); w.write(path, content, 0o755) }

func (w *Work) write(path, content string, mode os.FileMode) {
	w.t.Helper()
	p := filepath.Join(w.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	_ = os.Remove(p) // a symlink or a file of another mode
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		w.t.Fatal(err)
	}
}

// Symlink makes path a symlink to target.
func (w *Work) Symlink(target, path string) {
	w.t.Helper()
	p := filepath.Join(w.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	_ = os.Remove(p)
	if err := os.Symlink(target, p); err != nil {
		w.t.Fatal(err)
	}
}

// Remove deletes a file or folder from the work tree.
func (w *Work) Remove(path string) {
	w.t.Helper()
	if err := os.RemoveAll(filepath.Join(w.Dir, filepath.FromSlash(path))); err != nil {
		w.t.Fatal(err)
	}
}

// Commit stages everything and commits (empty commits allowed); it returns
// the new commit's hash.
func (w *Work) Commit(msg string) string {
	w.t.Helper()
	w.Run("add", "-A")
	w.Run("commit", "-q", "--allow-empty", "--no-verify", "-m", msg)
	return w.Head()
}

// Head returns the hash of HEAD.
func (w *Work) Head() string {
	w.t.Helper()
	return w.Run("rev-parse", "HEAD")
}

// Tag makes a lightweight tag at HEAD, or moves it there.
func (w *Work) Tag(name string) { w.t.Helper(); w.Run("tag", "-f", name) }

// TagAnnotated makes an annotated tag at HEAD, or moves it there.
func (w *Work) TagAnnotated(name, msg string) {
	w.t.Helper()
	w.Run("tag", "-f", "-a", "-m", msg, name)
}

// Push pushes the current branch and all tags to origin.
func (w *Work) Push() { w.t.Helper(); w.Run("push", "-q", "origin", "HEAD", "--tags") }

// ForcePush pushes the current branch and all tags to origin, rewriting
// what is there.
func (w *Work) ForcePush() { w.t.Helper(); w.Run("push", "-q", "-f", "origin", "HEAD", "--tags") }

// ResetHard moves the current branch and the work tree to rev.
func (w *Work) ResetHard(rev string) { w.t.Helper(); w.Run("reset", "-q", "--hard", rev) }
