package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/controller"
	"github.com/berth-gitops/berth/controller/control"
	"github.com/berth-gitops/berth/controller/store"
)

// TestControlCLI: status, history and the actions go to the control
// socket in the data dir; without a controller status says so, and an
// action says what it needs.
func TestControlCLI(t *testing.T) {
	data := t.TempDir()
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, &out, &errb)
		return code, out.String(), errb.String()
	}
	sock := filepath.Join(data, "berth.sock")
	if code, _, errOut := cli("status", "--data-dir", data); code != 1 || !strings.Contains(errOut, "no controller answers at "+sock) {
		t.Fatalf("status without a controller: %d %s", code, errOut)
	}
	if code, _, errOut := cli("rollback", "shop", "--data-dir", data); code != 1 || !strings.Contains(errOut, "rollback needs the running controller, and none answers at "+sock) {
		t.Fatalf("rollback without a controller: %d %s", code, errOut)
	}
	if code, _, errOut := cli("status", "--server", "127.0.0.1:9300"); code != 2 || !strings.Contains(errOut, "unknown flag: --server") {
		t.Fatalf("--server: %d %s", code, errOut)
	}

	db, err := store.Open(filepath.Join(data, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctl, err := controller.New(controller.Options{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	ctl.SetListener("127.0.0.1:9300", errors.New("listen tcp 127.0.0.1:9300: bind: address already in use"))
	s, err := control.Listen(sock, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer control.Serve(s, ctl.ControlHandler(), control.Access{UID: os.Geteuid(), GID: -1}, slog.New(slog.DiscardHandler))()

	code, out, errOut := cli("status", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "listen:     127.0.0.1:9300 NOT LISTENING") || strings.Contains(out, "not running") {
		t.Fatalf("status on the socket: %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := cli("resume", "shop", "--socket", sock); code != 1 || !strings.Contains(errOut, `unknown stack "shop"`) {
		t.Fatalf("resume of an unknown stack on the socket: %d %s", code, errOut)
	}
}
