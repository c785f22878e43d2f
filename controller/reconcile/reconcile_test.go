package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose/load"
	"github.com/berth-gitops/berth/controller/reconcile"
	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/rollout"
)

// loadErr loads a stack folder holding files and returns load.Load's
// real error: the input errors a person makes.
func loadErr(t *testing.T, files map[string]string) error {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "shop")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, err := load.Load(context.Background(), load.LoadOptions{Dir: dir, Stack: "shop",
		SecretsDir: filepath.Join(root, "secrets"), RenderDir: filepath.Join(root, "render")})
	if err == nil {
		t.Fatalf("the stack %v loaded", files)
	}
	return err
}

// TestClassifyInputStalls: each error a person must fix stalls the stack.
func TestClassifyInputStalls(t *testing.T) {
	cases := map[string]func(t *testing.T) error{
		"bad YAML": func(t *testing.T) error {
			return loadErr(t, map[string]string{"compose.yaml": "services:\n  web: [\n"})
		},
		"unknown field": func(t *testing.T) error {
			return loadErr(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n    imagee: x\n"})
		},
		"file outside the stack folder": func(t *testing.T) error {
			return loadErr(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n    env_file: ../../etc/passwd\n"})
		},
		"missing env file": func(t *testing.T) error {
			return loadErr(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n    env_file: web.env\n"})
		},
		"missing secret": func(t *testing.T) error {
			return loadErr(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n    env_file: app.env.tmpl\n",
				"app.env.tmpl": "DB_PASSWORD={{ secret \"db_password\" }}\n"})
		},
		"lint errors": func(*testing.T) error {
			return reconcile.Stalling(errors.New("lint: 1 error(s)"))
		},
		"host policy refusal": func(*testing.T) error {
			return fmt.Errorf("load: %w", reconcile.Stalling(errors.New(`host policy refused [privileged] service "web" field privileged`)))
		},
		"bad x-berth value": func(*testing.T) error {
			return reconcile.Stalling(errors.New(`service "web": x-berth.update: want start-first or stop-first`))
		},
		"unsigned commit": func(*testing.T) error {
			return fmt.Errorf("commit 0123: %w", gitsource.ErrUntrusted)
		},
		"symlink out of the export": func(*testing.T) error {
			return fmt.Errorf("export: %w", &gitsource.UnsafeTreeError{Path: "a", Err: errors.New("symlink a -> /etc points outside the export")})
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			err := mk(t)
			t.Logf("%s: %v", name, err)
			if kind, reason := reconcile.Classify(err); kind != reconcile.Stall {
				t.Fatalf("%v: %s (%s), want stall", err, kind, reason)
			}
		})
	}
}

// TestClassifyFaultsRetry: each fault that may pass is retried, with a
// reason for the status, even under an input error's wrapping.
func TestClassifyFaultsRetry(t *testing.T) {
	cli, err := client.New(client.WithHost("unix://" + filepath.Join(t.TempDir(), "no-engine.sock")))
	if err != nil {
		t.Fatal(err)
	}
	_, pingErr := cli.Ping(context.Background(), client.PingOptions{})
	if pingErr == nil {
		t.Fatal("an engine answered on a socket nobody listens on")
	}
	cases := []struct {
		name, reason string
		err          error
	}{
		{"engine unreachable", "engine unreachable", reconcile.Engine(pingErr)},
		{"engine unreachable, unmarked", "engine unreachable", fmt.Errorf("list containers: %w", pingErr)},
		{"engine refusing", "engine refused", reconcile.Engine(errors.New("Error response from daemon: conflict"))},
		{"export", "export failed", reconcile.Retrying("export failed", errors.New("shop is not a folder; remove it"))},
		{"Git read", "Git read failed", reconcile.Retrying("Git read failed", errors.New("object not found"))},
		{"disk full under a load error", "disk full",
			&load.LoadError{Dir: "shop", Err: &fs.PathError{Op: "write", Path: "render/x", Err: syscall.ENOSPC}}},
		{"I/O under an input mark", "disk or memory fault",
			reconcile.Stalling(&fs.PathError{Op: "read", Path: "compose.yaml", Err: syscall.EIO})},
		{"pull on the network", "network fault", fmt.Errorf("pull nginx: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})},
		{"deadline", "timed out", &load.LoadError{Dir: "shop", Err: context.DeadlineExceeded}},
		{"verification of the good commit again", "verification failed",
			reconcile.Retrying("verification failed", &rollout.Failure{Gate: "healthy", Reason: "unhealthy"})},
		{"unknown", "unexpected error", errors.New("something nobody saw coming")},
		{"unknown under a retry mark without reason", "unexpected error", reconcile.Retrying("", errors.New("x"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind, reason := reconcile.Classify(c.err)
			if kind != reconcile.Retry || reason != c.reason {
				t.Fatalf("%v: %s (%s), want retry (%s)", c.err, kind, reason, c.reason)
			}
		})
	}
}

// TestClassifyVerificationRollsBack: a failed gate rolls back, however
// wrapped.
func TestClassifyVerificationRollsBack(t *testing.T) {
	f := &rollout.Failure{Service: "web", Gate: "healthy", Reason: "unhealthy after 30s"}
	for _, err := range []error{f, fmt.Errorf("deploy: %w", f)} {
		if kind, _ := reconcile.Classify(err); kind != reconcile.RollBack {
			t.Fatalf("%v: %s, want roll back", err, kind)
		}
	}
}

func TestMarksKeepTheMessage(t *testing.T) {
	err := errors.New(`service "web": field privileged`)
	for _, m := range []error{reconcile.Stalling(err), reconcile.Retrying("x", err), reconcile.Engine(err)} {
		if m.Error() != err.Error() || !errors.Is(m, err) {
			t.Fatalf("%v does not keep %v", m, err)
		}
	}
	if reconcile.Stalling(nil) != nil || reconcile.Retrying("x", nil) != nil || reconcile.Engine(nil) != nil {
		t.Fatal("a mark of no error is an error")
	}
}
