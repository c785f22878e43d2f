package webhook

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// BenchmarkWebhookGitHub measures one signed GitHub push, each with its own
// delivery ID, from request to answer: "handler" calls ServeHTTP directly,
// "http" goes through a loopback server and client. It reports the p50 and
// p99 latencies.
func BenchmarkWebhookGitHub(b *testing.B) {
	pending := make(chan struct{}, 1)
	trigger := func(string) {
		select {
		case pending <- struct{}{}:
		default:
		}
	}
	cfg := allOn()
	h := New(cfg, trigger)
	body := refPush("refs/heads/main")
	body = append(body[:len(body)-1], []byte(`,"commits":[`+commits(20)+`]}`)...)
	sig := "sha256=" + hexHMAC(secret, body)
	header := func(i int) http.Header {
		hdr := http.Header{}
		hdr.Set("Content-Type", "application/json")
		hdr.Set("X-GitHub-Event", "push")
		hdr.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d", i))
		hdr.Set("X-Hub-Signature-256", sig)
		return hdr
	}
	b.Run("handler", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for i := 0; b.Loop(); i++ {
			req := httptest.NewRequest(http.MethodPost, "/hooks/github", bytes.NewReader(body))
			req.Header = header(i)
			w := httptest.NewRecorder()
			t0 := time.Now()
			h.ServeHTTP(w, req)
			lat = append(lat, time.Since(t0))
			if w.Code != 202 {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
		report(b, lat)
	})
	b.Run("http", func(b *testing.B) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := srv.Client()
		lat := make([]time.Duration, 0, b.N)
		for i := 0; b.Loop(); i++ {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hooks/github", bytes.NewReader(body))
			req.Header = header(1e9 + i)
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(t0))
			if resp.StatusCode != 202 {
				b.Fatal(resp.Status)
			}
		}
		report(b, lat)
	})
}

func report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// commits makes a realistic push payload's commit list.
func commits(n int) string {
	var buf bytes.Buffer
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"id":"%040d","message":"stacks/web: bump to 1.%d","author":{"name":"ops","email":"ops@example.com"},"modified":["stacks/web/compose.yaml"]}`, i, i)
	}
	return buf.String()
}
