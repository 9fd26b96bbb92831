package assistant_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/assistant"
	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/procstat"
	"github.com/crawlmaster/crawlmaster/internal/promtest"
	"github.com/crawlmaster/crawlmaster/internal/websim"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// TestHostileBatch runs the assistant's real fetch stack (crawl.New with
// the assistant's default fetch settings) over gRPC on two hostile URLs:
//   - websim's gzip bomb (1 MiB on the wire, 1 GiB inflated): the result is
//     ok, truncated at the body cap, and the process heap stays far under
//     the assistant's memory limit (fetch.memory_limit) all along;
//   - a host resolving to an address outside the allow-list (127.0.0.2,
//     where a server listens; only 127.0.0.1/32 is allowed): BLOCKED_ADDRESS
//     on the wire, nothing connected, counted in
//     crawl_fetch_errors_total{class="blocked_address"} and
//     crawlmaster_assistant_results_total{class="blocked_address"}.
func TestHostileBatch(t *testing.T) {
	sim, err := websim.New(websim.Config{Domains: 10, Seed: 1, GzipBomb: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	var evilConns atomic.Int32
	evil := &http.Server{Handler: http.NotFoundHandler(), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			evilConns.Add(1)
		}
	}}
	ln, err := net.Listen("tcp", "127.0.0.2:0") // the whole 127/8 is local on Linux
	if err != nil {
		t.Fatal(err)
	}
	go evil.Serve(ln)
	t.Cleanup(func() { evil.Close() })

	cfg := config.Default().Fetch
	cfg.DefaultDelay = 0
	cfg.Resolve = []fetchconfig.ResolveRule{{Pattern: "meta.test", Addr: ln.Addr().String()}, {Pattern: "*.test", Addr: sim.Addr()}}
	cfg.AllowedNetworks = []fetchconfig.Network{{Prefix: netip.MustParsePrefix("127.0.0.1/32")}}
	reg := prometheus.NewRegistry()
	f, err := crawl.New(cfg.Config, crawl.Deps{Metrics: crawl.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.(interface{ CloseIdleConnections() }).CloseIdleConnections)
	e := newEnvMetrics(t, 1, f, assistant.NewMetrics(reg))

	bombURL := "http://" + sim.Domain(1) + websim.GzipBombPath
	req := &pb.CrawlRequest{BatchId: "hostile", Slot: 0, SendBodyCap: int64(cfg.BodyCap), Tasks: []*pb.CrawlTask{
		{UrlId: 1, LeaseToken: 101, Url: bombURL},
		{UrlId: 2, LeaseToken: 102, Url: "http://meta.test/latest/meta-data/"},
	}}

	limit := uint64(cfg.MemoryLimit)
	stop := procstat.SampleHeap()
	results := map[int64]*pb.CrawlResult{}
	s, err := e.client.Crawl(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recvAll(t, s) {
		if r.GetDisposition() != pb.Disposition_DISPOSITION_STARTED {
			results[r.GetUrlId()] = r
		}
	}
	base, peak := stop()

	t.Logf("heap: %d KiB before, peak %d KiB; memory limit %d KiB", base>>10, peak>>10, limit>>10)
	if peak > limit || peak-base > 32<<20 {
		t.Errorf("heap peak %d bytes (from %d): want under the memory limit %d and at most 32 MiB more", peak, base, limit)
	}
	b := results[1]
	if b.GetErrorClass() != pb.ErrorClass_ERROR_CLASS_OK || !b.GetBodyTruncated() || b.GetBodySize() != int64(cfg.BodyCap) ||
		len(b.GetBody()) != int(cfg.BodyCap) || b.GetTitle() != "gzip bomb" {
		t.Errorf("gzip bomb: class %s, truncated %v, body %d/%d bytes, title %q", b.GetErrorClass(), b.GetBodyTruncated(),
			b.GetBodySize(), len(b.GetBody()), b.GetTitle())
	}
	m := results[2]
	if m.GetErrorClass() != pb.ErrorClass_ERROR_CLASS_BLOCKED_ADDRESS || m.GetHttpStatus() != 0 {
		t.Errorf("blocked host: class %s, status %d, %q", m.GetErrorClass(), m.GetHttpStatus(), m.GetErrorMessage())
	}
	if n := evilConns.Load(); n != 0 {
		t.Errorf("the blocked address accepted %d connections", n)
	}
	for _, name := range []string{"crawl_fetch_errors_total", "crawlmaster_assistant_results_total"} {
		if got := promtest.Value(t, reg, name, map[string]string{"class": "blocked_address"}); got != 1 {
			t.Errorf("%s{class=blocked_address} = %v", name, got)
		}
	}
}
