package crawl_test

import (
	"bytes"
	"compress/flate"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
	"github.com/crawlmaster/crawlmaster/internal/procstat"
	"github.com/crawlmaster/crawlmaster/internal/websim"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestGzipBombCutAtBodyCap: websim's gzip bomb (about 1 MiB on the wire,
// 1 GiB decompressed; Content-Encoding: gzip, which the Transport asked
// for on the crawler's behalf and decodes) is cut at the body cap: the
// result is ok and truncated at exactly BodyCap bytes, it takes
// milliseconds of CPU, and neither the heap (sampled) nor the allocations
// grow by more than a few body caps.
func TestGzipBombCutAtBodyCap(t *testing.T) {
	sim, err := websim.New(websim.Config{Domains: 10, Seed: 1, GzipBomb: true}) // zero Fractions: plain domains
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	cfg := testConfig(sim.Addr())
	f := newFetcher(t, cfg)
	u := "http://" + sim.Domain(1) + websim.GzipBombPath
	fetch(t, f, u) // websim builds its bomb on first use: not measured

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	stop := procstat.SampleHeap()
	cpu, start := cpuNow(), time.Now()
	res := fetch(t, f, u)
	took, cpuUsed := time.Since(start), cpuNow()-cpu
	base, top := stop()
	peak := top - base
	runtime.ReadMemStats(&after)
	wantClass(t, res, errclass.OK)
	if !res.Truncated || res.BodySize != int64(cfg.BodyCap) || len(res.Body) != int(cfg.BodyCap) || res.Title != "gzip bomb" {
		t.Errorf("truncated %v, body %d bytes (cap %d), title %q", res.Truncated, res.BodySize, cfg.BodyCap, res.Title)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("took %v (cpu %v), allocated %d KiB, heap peak +%d KiB", took, cpuUsed, allocated>>10, peak>>10)
	const limit = 16 << 20 // the body is 1 MiB; decompressing the bomb whole would be 1 GiB
	if allocated > limit || peak > limit {
		t.Errorf("allocated %d bytes, heap peak +%d bytes: want both under %d", allocated, peak, limit)
	}
	// Inflating the whole GiB costs a quarter of a second of CPU (seconds
	// with -race); the capped read a few milliseconds.
	if took > 5*time.Second || cpuUsed > 200*time.Millisecond {
		t.Errorf("took %v, %v of CPU", took, cpuUsed)
	}
}

// TestUnaskedContentEncoding: the crawler asks for gzip only (net/http's
// Transport adds "Accept-Encoding: gzip" and decodes it); a server that
// answers deflate or br unasked gets its bytes kept as they are, under
// the same body cap: nothing is inflated.
func TestUnaskedContentEncoding(t *testing.T) {
	var zipped bytes.Buffer // 4 MiB of zeros, raw deflate: about 4 KiB
	fw, _ := flate.NewWriter(&zipped, flate.BestCompression)
	fw.Write(make([]byte, 4<<20))
	fw.Close()
	s := newSite(t)
	var accept atomic.Value
	for _, enc := range []string{"deflate", "br"} {
		s.handle("a.test/"+enc, func(w http.ResponseWriter, r *http.Request) {
			accept.Store(r.Header.Get("Accept-Encoding"))
			w.Header().Set("Content-Encoding", enc)
			w.Header().Set("Content-Type", "text/html")
			for range 1000 { // 1000 x 4 KiB: beyond the 1 MiB cap
				if _, err := w.Write(zipped.Bytes()); err != nil {
					return
				}
			}
		})
	}
	f := newFetcher(t, testConfig(s.addr()))
	for _, enc := range []string{"deflate", "br"} {
		res := fetch(t, f, "http://a.test/"+enc)
		wantClass(t, res, errclass.OK)
		if !res.Truncated || res.BodySize != int64(fetchconfig.Default().BodyCap) || !bytes.HasPrefix(res.Body, zipped.Bytes()) {
			t.Errorf("%s: truncated %v, %d bytes, body not the raw stream", enc, res.Truncated, res.BodySize)
		}
	}
	if a, _ := accept.Load().(string); a != "gzip" {
		t.Errorf("Accept-Encoding sent: %q, want gzip", a)
	}
}

// TestHugeResponseHeader: a header section over MaxHeaderBytes (here a
// 1 MiB header) ends a page fetch as protocol, with nothing of the body
// read, and makes robots.txt unavailable.
func TestHugeResponseHeader(t *testing.T) {
	s := newSite(t)
	big := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("a", 1<<20))
		w.Write([]byte("<title>never read</title>"))
	}
	s.handle("a.test/big", big)
	s.handle("b.test/robots.txt", big)
	f := newFetcher(t, testConfig(s.addr()))
	res := fetch(t, f, "http://a.test/big")
	wantClass(t, res, errclass.Protocol)
	if !strings.Contains(res.Err, fmt.Sprintf("server response headers exceeded %d bytes", crawl.MaxHeaderBytes)) || res.Status != 0 || res.BodySize != 0 {
		t.Errorf("err %q, status %d, %d bytes", res.Err, res.Status, res.BodySize)
	}
	res = fetch(t, f, "http://b.test/page")
	wantClass(t, res, errclass.RobotsUnavailable)
	if s.count("b.test/page") != 0 {
		t.Error("the page was requested")
	}
}

// TestRobotsReadTo500KiB: RFC 9309 2.5 asks crawlers to parse at least
// 500 KiB of robots.txt. A rule after 400 KiB of padding applies; one
// beyond robots_cap (512 KiB by default) does not.
func TestRobotsReadTo500KiB(t *testing.T) {
	if c := fetchconfig.Default().RobotsCap; c < 500*fetchconfig.KiB {
		t.Fatalf("default robots_cap %s is under RFC 9309's 500 KiB", c)
	}
	var b strings.Builder
	b.WriteString("User-agent: *\n")
	pad := "# " + strings.Repeat("padding ", 12) + "\n"
	for b.Len() < 400<<10 {
		b.WriteString(pad)
	}
	b.WriteString("Disallow: /late\n")
	for b.Len() < 600<<10 {
		b.WriteString(pad)
	}
	b.WriteString("Disallow: /beyond\n")
	s := newSite(t)
	s.robots("a.test", b.String())
	f := newFetcher(t, testConfig(s.addr()))
	wantClass(t, fetch(t, f, "http://a.test/late"), errclass.RobotsDisallowed)
	wantClass(t, fetch(t, f, "http://a.test/beyond"), errclass.OK)
	if s.count("a.test/late") != 0 || s.count("a.test/beyond") != 1 {
		t.Errorf("requests: /late %d, /beyond %d", s.count("a.test/late"), s.count("a.test/beyond"))
	}
}
