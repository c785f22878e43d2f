package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestControllerWebhookBurst: 200 signed deliveries within a second, while
// commits land, coalesce: the stack never runs two deploys at once and the
// last commit is the one deployed. The poll is 10 minutes, so only the
// webhooks can have done it.
func TestControllerWebhookBurst(t *testing.T) {
	in := newInfra(t)
	shop := in.project("shop")
	in.write("shop", "compose.yaml", shopCompose)
	first := in.commit("shop")
	secret := "generic-hook-secret-canary"
	file := filepath.Join(t.TempDir(), "hook")
	if err := os.WriteFile(file, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	run := in.startBerth("", "--generic-webhook-secret-file", file, "--poll", "10m")
	run.waitApplied(shop.project, first, 90*time.Second)

	var last string
	for i := range 3 {
		in.write("shop", "compose.yaml", strings.Replace(shopCompose, "restart: unless-stopped\n  worker:", fmt.Sprintf("restart: unless-stopped\n    environment:\n      GEN: \"%d\"\n  worker:", i), 1))
		last = in.commit(fmt.Sprintf("web generation %d", i))
	}
	body := []byte(`{"ref":"refs/heads/main"}`)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	requests := in.srv.Requests()
	var wg sync.WaitGroup
	codes := make([]int, 200)
	start := time.Now()
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, "http://"+run.addr+"/hooks/generic", bytes.NewReader(body))
			req.Header.Set("X-Signature", sig)
			req.Header.Set("X-Delivery", fmt.Sprintf("burst-%d", i))
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				codes[i] = res.StatusCode
				res.Body.Close()
			}
		}()
		time.Sleep(4 * time.Millisecond) // 200 spread over about a second
	}
	wg.Wait()
	t.Logf("200 deliveries sent in %.0f ms", time.Since(start).Seconds()*1000)
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Fatalf("delivery %d answered %d, want 202", i, c)
		}
	}
	run.waitApplied(shop.project, last, 60*time.Second)

	h := run.history(shop.project)
	sort.Slice(h, func(i, j int) bool { return h[i].Start.Before(h[j].Start) })
	for i := 1; i < len(h); i++ {
		if h[i].Start.Before(h[i-1].End) {
			t.Fatalf("two deploys of one stack overlapped: %+v and %+v", h[i-1], h[i])
		}
	}
	// A fetch is one or two requests to the Git server: the burst must
	// come down to a fetch at once and about one more a second.
	fetches := in.srv.Requests() - requests
	t.Logf("the burst made %d requests to the Git server", fetches)
	if fetches > 8 {
		t.Fatalf("200 deliveries made %d Git requests; they should coalesce into a few fetches", fetches)
	}
	if strings.Contains(run.logs(), secret) {
		t.Fatal("the webhook secret reached the log")
	}
}
