package gitsource_test

import (
	"bufio"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-gitops/berth/gitsource"
	"github.com/berth-gitops/berth/gitsource/gittest"
)

// BenchmarkExportLargeFile exports a stack that holds a 100 MB file from a
// clone and reports the process's peak resident memory during the export
// (Linux: VmHWM, reset just before it).
func BenchmarkExportLargeFile(b *testing.B) {
	srv := gittest.NewServer(b, gittest.ServerOptions{})
	w := srv.NewWork("app")
	w.Write("stacks/big/compose.yaml", "services: {app: {image: busybox:1.36}}\n")
	writeRandom(b, filepath.Join(w.Dir, "stacks", "big", "data.bin"), 100<<20)
	commit := w.Commit("a stack with a 100 MB file")
	w.Push()
	r := open(b, gitsource.Options{URL: srv.URL("app")})
	var peak, growth int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dest := filepath.Join(b.TempDir(), "stacks")
		debug.FreeOSMemory()
		resetPeakRSS(b)
		base := procStatus(b, "VmRSS:")
		b.StartTimer()
		e, err := r.ExportTree(commit, "stacks/big", dest)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		p := procStatus(b, "VmHWM:")
		peak, growth = max(peak, p), max(growth, p-base)
		if st, err := os.Stat(filepath.Join(e.Path, "data.bin")); err != nil || st.Size() != 100<<20 {
			b.Fatalf("exported data.bin: %v, %v", st, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MB")
	b.ReportMetric(float64(growth)/(1<<20), "RSS-growth-MB")
}

func writeRandom(b *testing.B, name string, size int64) {
	b.Helper()
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
}

// resetPeakRSS sets the process's VmHWM back to its current RSS.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak RSS: %v", err)
	}
}

// procStatus is a memory line of /proc/self/status (VmHWM:, VmRSS:) in
// bytes.
func procStatus(b *testing.B, key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), key); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", key)
	return 0
}
