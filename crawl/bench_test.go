package crawl_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
)

var benchPage = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Bench &amp; page</title></head><body>" +
	strings.Repeat("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n", 200) + "</body></html>"

// linksPage is a ~15 KB page with 100 links of the usual sorts (relative,
// absolute, with query and fragment).
var linksPage = func() string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">` +
		`<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="index,follow">` +
		`<link rel="stylesheet" href="/style.css"><script src="/app.js"></script>` +
		`<title>Links page &ndash; Example Corp</title></head><body><nav><ul>`)
	for i := range 100 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, `<li><a href="/section/page-%d.html">Page %d</a></li>`, i, i)
		case 1:
			fmt.Fprintf(&b, `<li><a href="https://www.example.com/articles/%d?ref=nav&amp;lang=en">Article %d</a></li>`, i, i)
		case 2:
			fmt.Fprintf(&b, `<li><a class="x" href="../other/%d/#part" title="t">Other %d</a></li>`, i, i)
		default:
			fmt.Fprintf(&b, `<li><a rel="noopener" href="item%d">Item %d</a></li>`, i, i)
		}
		if i%10 == 9 {
			b.WriteString("</ul><p>" + strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 16) + "</p><ul>")
		}
	}
	b.WriteString("</ul></nav></body></html>")
	return b.String()
}()

// benchServer serves a small robots.txt and benchPage for every host.
func benchServer(b *testing.B) string {
	robots := "User-agent: *\nDisallow: /private\nCrawl-delay: 0\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, robots)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/links" {
			io.WriteString(w, linksPage)
			return
		}
		io.WriteString(w, benchPage)
	}))
	b.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// cpuTime is the process's user+system CPU time. Reported per op it
// counts client and server (same process), so compare Fetch with RawHTTP:
// the difference is the stack's overhead.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

func benchFetcher(b *testing.B, addr string) crawl.Fetcher {
	cfg := testConfig(addr)
	cfg.Resolve = []fetchconfig.ResolveRule{{Pattern: "*", Addr: addr}}
	f, err := crawl.New(cfg, crawl.Deps{Metrics: crawl.NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.(interface{ CloseIdleConnections() }).CloseIdleConnections)
	return f
}

// BenchmarkFetch: a new host per iteration, so robots.txt + page (two
// requests on one new keep-alive connection) through the full stack.
func BenchmarkFetch(b *testing.B) {
	f := benchFetcher(b, benchServer(b))
	ctx := context.Background()
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	i := 0
	for b.Loop() {
		i++
		res := f.Fetch(ctx, crawl.Request{URL: fmt.Sprintf("http://h%d.bench/page", i), FollowRedirects: true})
		if res.Class != errclass.OK {
			b.Fatalf("%s %s", res.Class, res.Err)
		}
	}
}

// BenchmarkFetchCachedRobots: one host, robots.txt cached, one page request
// per iteration on a reused connection.
func BenchmarkFetchCachedRobots(b *testing.B) {
	f := benchFetcher(b, benchServer(b))
	ctx := context.Background()
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		res := f.Fetch(ctx, crawl.Request{URL: "http://one.bench/page", FollowRedirects: true})
		if res.Class != errclass.OK {
			b.Fatalf("%s %s", res.Class, res.Err)
		}
	}
}

// BenchmarkRawHTTP is the baseline for BenchmarkFetchCachedRobots: a bare
// net/http GET + ReadAll of the same page on a reused connection.
func BenchmarkRawHTTP(b *testing.B) {
	addr := benchServer(b)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		resp, err := c.Get("http://one.bench/page")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadAll(resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}

// BenchmarkFetchLinks is BenchmarkFetchCachedRobots with link extraction:
// the 15 KB linksPage, 100 links, MaxLinks 1000.
func BenchmarkFetchLinks(b *testing.B) {
	f := benchFetcher(b, benchServer(b))
	ctx := context.Background()
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		res := f.Fetch(ctx, crawl.Request{URL: "http://one.bench/links", MaxLinks: 1000})
		if res.Class != errclass.OK || len(res.Links) != 100 {
			b.Fatalf("%s %s, %d links", res.Class, res.Err, len(res.Links))
		}
	}
}

// BenchmarkParsePageLinks is the tokenizer pass of BenchmarkFetchLinks
// alone; BenchmarkParsePageTitle is the same page without links (the
// ExtractTitle fast path).
func BenchmarkParsePageLinks(b *testing.B) {
	page := []byte(linksPage)
	opts := crawl.PageOptions{URL: "http://one.bench/dir/links", MaxLinks: 1000, ProductToken: "testbot"}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		if p := crawl.ParsePage(page, "text/html; charset=utf-8", opts); len(p.Links) != 100 || p.Title == "" {
			b.Fatalf("%d links, title %q", len(p.Links), p.Title)
		}
	}
}

func BenchmarkParsePageTitle(b *testing.B) {
	page := []byte(linksPage)
	opts := crawl.PageOptions{URL: "http://one.bench/dir/links"}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		if p := crawl.ParsePage(page, "text/html; charset=utf-8", opts); p.Title == "" {
			b.Fatal("no title")
		}
	}
}
