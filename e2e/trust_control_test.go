package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTrustControlLocalUser: a local user who is not root, berth's user
// or in the control group can neither act nor read status: not on the
// control socket (its mode, and the peer credentials when the mode is
// loosened by hand), not on the TCP listener (no action or status route).
// A member of the control group can; root's actions are logged with the
// user who asked.
func TestTrustControlLocalUser(t *testing.T) {
	if _, err := user.LookupGroup("daemon"); err != nil {
		t.Skip("no group daemon to be the control group")
	}
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", shopCompose)
	first := in.commit("shop 1.0")
	sockDir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(sockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	readableByAll(t, sockDir) // every user may reach the socket; its mode decides
	sock := filepath.Join(sockDir, "berth.sock")
	run := in.startBerth("", "--control-socket", sock, "--control-group", "daemon")
	run.waitApplied(shop.project, first, 90*time.Second)
	in.write("shop", "compose.yaml", strings.ReplaceAll(shopCompose, "app:1.0", "app:1.1"))
	second := in.commit("shop 1.1")
	run.waitApplied(shop.project, second, 60*time.Second)
	bin := berthForAll(t)
	notPinned := func(when string) {
		t.Helper()
		s := run.stackState(shop.project)
		if s.Pinned != "" || s.Applied != second || s.Suspended {
			t.Fatalf("%s: the stack changed: pinned %q, applied %s, suspended %v", when, s.Pinned, s.Applied, s.Suspended)
		}
	}

	t.Log("nobody on the socket: the mode (0660 root:daemon) refuses")
	out, code := runAs(t, "nobody", bin, "rollback", shop.project, "--to", first[:12], "--socket", sock, "--timeout", "20s")
	if code == 0 || !strings.Contains(out, "permission denied") || !strings.Contains(out, "control socket is for root") {
		t.Fatalf("nobody's rollback: exit %d\n%s", code, out)
	}
	out, code = runAs(t, "nobody", bin, "status", "--socket", sock)
	if code == 0 || strings.Contains(out, shop.project) || !strings.Contains(out, "permission denied") {
		t.Fatalf("nobody's status: exit %d\n%s", code, out)
	}
	notPinned("after nobody's rollback on the socket")

	t.Log("a member of control.group may read the status")
	out, code = runAs(t, "daemon", bin, "status", "--socket", sock)
	if code != 0 || !strings.Contains(out, shop.project) {
		t.Fatalf("daemon's status: exit %d\n%s", code, out)
	}

	t.Log("the socket's mode loosened by hand: the peer credentials still refuse nobody")
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	out, code = runAs(t, "nobody", bin, "suspend", shop.project, "--socket", sock)
	if code == 0 || !strings.Contains(out, "refused") {
		t.Fatalf("nobody's suspend through a 0666 socket: exit %d\n%s", code, out)
	}
	if !run.logHas("control socket: refused", `"peer":"nobody (uid 65534)"`) {
		t.Fatal("the refused peer is not in the log")
	}
	notPinned("after nobody's suspend on a loosened socket")

	t.Log("nobody on the TCP listener: no action, no status")
	for _, c := range []struct{ method, path string }{
		{"POST", "/stacks/" + shop.project + "/rollback?to=" + first},
		{"POST", "/stacks/" + shop.project + "/suspend"},
		{"GET", "/status"},
		{"GET", "/history/" + shop.project},
	} {
		out, _ = runAs(t, "nobody", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", c.method, "http://"+run.addr+c.path)
		if strings.TrimSpace(out) != "404" {
			t.Fatalf("nobody: %s %s on the TCP listener answered %s, want 404", c.method, c.path, out)
		}
	}
	notPinned("after nobody's requests on the TCP listener")

	t.Log("root acts through the socket; the log says who asked")
	if _, _, code := runBerth(t, "suspend", shop.project, "--socket", sock); code != 0 {
		t.Fatalf("root's suspend: exit %d", code)
	}
	if !run.logHas("stack suspend asked", `"by":"root (uid 0)"`) {
		t.Fatal("the action's log line does not name the user who asked")
	}
	if _, _, code := runBerth(t, "resume", shop.project, "--socket", sock); code != 0 {
		t.Fatalf("root's resume: exit %d", code)
	}
	run.stop()
	if _, err := os.Lstat(sock); err == nil {
		t.Fatal("the socket is left behind after SIGTERM")
	}

	t.Log("no controller: nobody cannot read the data dir either, and is told so")
	out, code = runAs(t, "nobody", bin, "status", "--socket", sock, "--data-dir", run.dataDir)
	if code == 0 || strings.Contains(out, shop.project) || !strings.Contains(out, "is not readable by you") {
		t.Fatalf("nobody's status without a controller: exit %d\n%s", code, out)
	}
}

// TestTrustControlBrowser: a page of another site cannot POST to the TCP
// listener, and a DNS-rebinding page (its own name resolving to 127.0.0.1)
// cannot read it; the Git host's signed webhook still gets through.
func TestTrustControlBrowser(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", shopCompose)
	first := in.commit("shop 1.0")
	secret := "generic-hook-secret-canary"
	file := filepath.Join(t.TempDir(), "hook")
	if err := os.WriteFile(file, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	run := in.startBerth("", "--generic-webhook-secret-file", file, "--poll", "10m")
	run.waitApplied(shop.project, first, 90*time.Second)
	_, port, _ := net.SplitHostPort(run.addr)
	send := func(method, path, host string, header map[string]string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+run.addr+path, bytes.NewReader(body))
		req.Host = host
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	crossSite := map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
	oldBrowser := map[string]string{"Origin": "http://evil.example"}
	for _, c := range []struct {
		name, method, path, host string
		header                   map[string]string
		want                     int
	}{
		{"cross-site rollback", "POST", "/stacks/" + shop.project + "/rollback?to=" + first, run.addr, crossSite, 403},
		{"cross-site webhook", "POST", "/hooks/generic", run.addr, crossSite, 403},
		{"foreign Origin without Sec-Fetch-Site", "POST", "/stacks/" + shop.project + "/suspend", run.addr, oldBrowser, 403},
		{"DNS rebinding reads status", "GET", "/status", "evil.example:" + port, nil, 421},
		{"DNS rebinding reads metrics", "GET", "/metrics", "evil.example:" + port, nil, 421},
		{"DNS rebinding posts an action", "POST", "/stacks/" + shop.project + "/suspend", "evil.example:" + port, nil, 421},
	} {
		code, body := send(c.method, c.path, c.host, c.header, nil)
		if code != c.want || strings.Contains(body, shop.project) || len(body) > 40 {
			t.Errorf("%s: %d %q, want %d and a short reason", c.name, code, body, c.want)
		}
	}
	if s := run.stackState(shop.project); s.Pinned != "" || s.Suspended {
		t.Fatalf("a cross-site request changed the stack: %+v", s)
	}

	t.Log("what must keep working: health and metrics on 127.0.0.1 and localhost, a signed webhook")
	for _, host := range []string{run.addr, "localhost:" + port} {
		if code, body := send("GET", "/healthz", host, nil, nil); code != 200 || body != "ok\n" {
			t.Fatalf("/healthz with Host %s: %d %q", host, code, body)
		}
	}
	if code, body := send("GET", "/metrics", run.addr, nil, nil); code != 200 || !strings.Contains(body, "berth_stack_state") {
		t.Fatalf("/metrics: %d", code)
	}
	in.write("shop", "compose.yaml", strings.ReplaceAll(shopCompose, "app:1.0", "app:1.1"))
	second := in.commit("shop 1.1")
	body := []byte(`{"ref":"refs/heads/main"}`)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if code, b := send("POST", "/hooks/generic", run.addr, map[string]string{"X-Signature": sig, "X-Delivery": "d1"}, body); code != http.StatusAccepted {
		t.Fatalf("signed webhook: %d %s", code, b)
	}
	run.waitApplied(shop.project, second, 60*time.Second) // the poll is 10 minutes: only the webhook can do this
}

// TestTrustControlPortTaken: another process holds the listen address
// before berth starts (and answers /status with a lie). berth still
// deploys, `berth status` asks the socket, not the impostor, and shows the
// listener's error; once the address is free berth binds it.
func TestTrustControlPortTaken(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", shopCompose)
	first := in.commit("shop 1.0")
	addr := freeAddr(t)
	squat, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	impostor := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"running":true,"stacks":[{"stack":"impostor-stack","state":"in sync"}]}`)
	})}
	go impostor.Serve(squat)
	defer impostor.Close()

	dataDir := filepath.Join(t.TempDir(), "data")
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(gitPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	run := startBerthArgs(t, dataDir, []string{"run", "--repo", in.srv.URL("infra"), "--git-username", gitUser, "--git-password-file", pw,
		"--data-dir", dataDir, "--listen", addr, "--poll", "1s", "--host", "host-a", "--log-format", "json", "--settle", "500ms"})
	run.waitApplied(shop.project, first, 90*time.Second)

	out, _, code := runBerth(t, "status", "--data-dir", dataDir)
	if code != 0 || !strings.Contains(out, shop.project) || strings.Contains(out, "impostor-stack") ||
		!strings.Contains(out, addr+" NOT LISTENING") || !strings.Contains(out, "address already in use") {
		t.Fatalf("berth status while the port is taken: exit %d\n%s", code, out)
	}
	if n := strings.Count(run.logs(), "listen failed"); n != 1 {
		t.Fatalf("the bind error is logged %d times, want once", n)
	}

	t.Log("the squatter goes: berth binds the address")
	impostor.Close()
	run.waitFor("the listener bound", 30*time.Second, func() bool {
		st, err := run.status()
		return err == nil && st.Listener != nil && st.Listener.Listening
	})
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/healthz after the bind: %s", res.Status)
	}
	run.stop()
}

// TestTrustControlDataDir: berth refuses to start on a data dir, secrets
// dir or credential file that another user could change, saying how to
// fix it, and writes nothing there.
func TestTrustControlDataDir(t *testing.T) {
	base := t.TempDir()
	pw := filepath.Join(base, "password")
	if err := os.WriteFile(pw, []byte("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	mkdir := func(name string, mode os.FileMode, uid int) string {
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
	good := mkdir("good", 0o700, 0)
	link := filepath.Join(base, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	loosePw := filepath.Join(base, "loose-password")
	if err := os.WriteFile(loosePw, []byte("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loosePw, 0o666); err != nil {
		t.Fatal(err)
	}
	fix := func(dir string) string { return "chown root:root " + dir + " && chmod 700 " + dir }
	world, group, nobody := mkdir("world", 0o777, 0), mkdir("group", 0o770, 0), mkdir("nobody", 0o700, 65534)
	secrets := mkdir("secrets", 0o757, 0)
	for _, c := range []struct {
		name          string
		data, secrets string
		password      string
		want          []string
	}{
		{"world-writable data dir", world, "", pw, []string{"data dir " + world + " is writable by its group and others (mode 0777)", fix(world)}},
		{"group-writable data dir", group, "", pw, []string{"writable by its group (mode 0770)", fix(group)}},
		{"data dir owned by nobody", nobody, "", pw, []string{"owned by nobody (uid 65534)", fix(nobody)}},
		{"data dir a symlink", link, "", pw, []string{"data dir " + link + " is a symbolic link"}},
		{"world-writable secrets dir", good, secrets, pw, []string{"secrets dir " + secrets + " is writable by others", fix(secrets)}},
		{"world-writable password file", good, "", loosePw, []string{"git.password_file " + loosePw + " is writable by others", "chmod o-w " + loosePw}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"run", "--repo", "https://git.example.com/infra.git", "--git-username", "u", "--git-password-file", c.password,
				"--data-dir", c.data, "--listen", "off", "--host", "host-a"}
			if c.secrets != "" {
				args = append(args, "--secrets-dir", c.secrets)
			}
			out, code := runBerthFor(t, 20*time.Second, args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\n%s", code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("the message lacks %q:\n%s", w, out)
				}
			}
			if _, err := os.Lstat(filepath.Join(c.data, "berth.db")); err == nil {
				t.Error("berth wrote its state into a folder it refused")
			}
		})
	}
}

// runBerthFor runs berth and fails the test if it has not exited within d
// (a berth that accepted a bad folder would keep running).
func runBerthFor(t *testing.T, d time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBin, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("berth %v still ran after %s: it accepted the folder\n%s", args, d, out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// berthForAll is a copy of the berth binary that every user may run: the
// test binary's folder is private.
func berthForAll(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "berth-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(berthBin)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "berth")
	if err := os.WriteFile(bin, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// runAs runs a command as another user (runuser, as root) and returns its
// combined output and exit code.
func runAs(t *testing.T, user string, name string, args ...string) (string, int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run commands as another user")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "runuser", append([]string{"-u", user, "--", name}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("runuser -u %s -- %s %s → exit %d\n%s", user, name, strings.Join(args, " "), code, out)
	return string(out), code
}
