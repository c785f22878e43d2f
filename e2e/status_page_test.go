package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-gitops/berth/gitsource"
)

// chromium is Debian's headless browser, which loads the status page as a
// person's phone would. Without it the test fails, unless BERTH_E2E=off.
func chromium(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("BERTH_E2E") == "off" {
			t.Skip("no chromium and BERTH_E2E=off")
		}
		t.Fatal("the status page scenario needs chromium (apt-get install chromium), or BERTH_E2E=off")
	}
	return bin
}

// browse runs headless chromium on url with the flags given and returns
// its standard output.
func browse(t *testing.T, bin, url string, flags ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir()}, flags...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(flags, " "), err, stderr.String())
	}
	return string(out)
}

// A person opens the status page of a running berth in a browser: each
// stack shows with its state and live commit, and no environment value.
// A phone-sized screenshot is kept as an artifact. With status_page off the
// page is gone and the rest of the listener stays.
func TestStatusPage(t *testing.T) {
	bin := chromium(t)
	in := newInfra(t)
	const canary = "status-page-env-canary-71c2"
	in.write("shop", "compose.yaml", "services:\n  web:\n    image: berthtest/app:1.0\n    restart: unless-stopped\n    environment:\n      GREETING: "+canary+"\n")
	in.write("blog", "compose.yaml", "services:\n  web:\n    image: berthtest/app:1.0\n    restart: unless-stopped\n")
	head := in.commit("shop and blog: first deploy\n\nbody line " + canary)
	in.project("shop")
	in.project("blog")
	dataDir := filepath.Join(t.TempDir(), "data")
	b := in.startBerth(dataDir)
	b.waitApplied(in.stack("shop"), head, 3*time.Minute)
	b.waitApplied(in.stack("blog"), head, 3*time.Minute)

	url := "http://" + b.addr + "/"
	dom := browse(t, bin, url, "--dump-dom")
	for _, name := range []string{in.stack("shop"), in.stack("blog")} {
		want := `data-stack="` + name + `" data-state="in sync" data-commit="` + gitsource.Short(head) + `"`
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %s:\n%s", want, dom)
		}
	}
	for _, want := range []string{"shop and blog: first deploy", "succeeded", "No alerts."} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(dom, canary) {
		t.Errorf("the page shows the environment value or the commit body")
	}

	dir := os.Getenv("BERTH_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "status-page-phone.png")
	browse(t, bin, url, "--screenshot="+shot, "--window-size=412,915")
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("screenshot of the status page on a phone: %s", shot)

	b.stop()
	b = in.startBerth(dataDir, "--status-page=false")
	b.waitFor("the listener", time.Minute, func() bool {
		res, err := http.Get("http://" + b.addr + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == http.StatusOK
	})
	for path, want := range map[string]int{"/": http.StatusNotFound, "/static/page.css": http.StatusNotFound, "/healthz": http.StatusOK} {
		res, err := http.Get("http://" + b.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("with --status-page=false GET %s = %s, want %d", path, res.Status, want)
		}
	}
}
