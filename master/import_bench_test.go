package master_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/pgtest"
	"github.com/crawlmaster/crawlmaster/internal/procstat"
	"github.com/crawlmaster/crawlmaster/master"
	"github.com/crawlmaster/crawlmaster/master/store"
	"github.com/crawlmaster/crawlmaster/master/tranco"
)

// writeTranco writes an n-line list in the real format (CRLF, no header).
func writeTranco(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "top-1m.csv")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(w, "%d,site%d-example.com\r\n", i, i)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

func vmHWM() int64 { return procstat.PeakRSS(0) }

// BenchmarkImportTranco1M imports a 1,000,000-line Tranco list into an
// empty frontier and reports wall time, rate, and memory (peak heap in use
// sampled during the import, and the process's peak RSS, which includes
// the test binary itself). Target: under 30 s on a 2-core machine.
func BenchmarkImportTranco1M(b *testing.B) {
	const n = 1_000_000
	path := writeTranco(b, n)
	for b.Loop() {
		b.StopTimer()
		pool, _ := pgtest.NewPool(b)
		st := store.New(pool)
		if _, err := store.Migrate(context.Background(), pool); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var peakHeap uint64
		done := make(chan struct{})
		go func() {
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			var ms runtime.MemStats
			for {
				select {
				case <-done:
					return
				case <-t.C:
					runtime.ReadMemStats(&ms)
					peakHeap = max(peakHeap, ms.HeapInuse)
				}
			}
		}()
		f, err := tranco.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		rep, err := master.ImportTranco(context.Background(), st, f, master.ImportOptions{})
		elapsed := time.Since(start)
		b.StopTimer()
		close(done)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if rep.Inserted != n || rep.Bad != 0 {
			b.Fatalf("import: %s", rep)
		}
		b.ReportMetric(elapsed.Seconds(), "s/import")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "lines/s")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(vmHWM())/(1<<20), "peak-rss-MiB")
		fmt.Printf("import of %d Tranco lines: %s (%.0f lines/s), peak heap %.1f MiB, peak RSS of the test process %.1f MiB\n",
			n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), float64(peakHeap)/(1<<20), float64(vmHWM())/(1<<20))
		b.StartTimer()
	}
}
