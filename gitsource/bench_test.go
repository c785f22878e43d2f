package gitsource_test

import (
	"fmt"
	"testing"

	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/gitsource/gittest"
)

// benchRepo serves a repository with n commits of history over
// http-backend and returns a clone of it.
func benchRepo(b *testing.B, n int) (*gittest.Server, *gittest.Work, *gitsource.Repo) {
	b.Helper()
	srv := gittest.NewServer(b, gittest.ServerOptions{})
	w := srv.NewWork("app")
	w.FastImport(n)
	w.Push()
	return srv, w, open(b, gitsource.Options{URL: srv.URL("app")})
}

func BenchmarkFetchNoChange10k(b *testing.B) { benchNoChange(b, 10_000) }

func BenchmarkFetchOneCommit10k(b *testing.B) { benchOneCommit(b, 10_000) }

func benchNoChange(b *testing.B, n int) {
	srv, _, r := benchRepo(b, n)
	sent := srv.BytesSent()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		fetch(b, r)
	}
	b.ReportMetric(float64(srv.BytesSent()-sent)/float64(b.N), "B-recv/op")
}

func benchOneCommit(b *testing.B, n int) {
	srv, w, r := benchRepo(b, n)
	var received int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		w.Write("stacks/app/compose.yaml", fmt.Sprintf("services: {app: {image: busybox:%d}}\n", i))
		want := w.Commit(fmt.Sprintf("bench %d", i))
		w.Push()
		sent := srv.BytesSent()
		b.StartTimer()
		if c := fetch(b, r); c.Hash != want {
			b.Fatalf("fetched %s, want %s", c.Hash, want)
		}
		received += srv.BytesSent() - sent
	}
	b.ReportMetric(float64(received)/float64(b.N), "B-recv/op")
}
