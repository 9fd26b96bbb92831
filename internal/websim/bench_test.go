package websim

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
)

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// okDomains returns up to n served domains with a plain home page.
func okDomains(b testing.TB, s *Sim, n int) []string {
	var out []string
	for r := 1; r <= s.NumDomains() && len(out) < n; r++ {
		if p := s.Profile(r); p.Home == HomeOK && p.Robots == RobotsAllowAll {
			out = append(out, p.Domain)
		}
	}
	if len(out) == 0 {
		b.Fatal("no ok domains")
	}
	return out
}

// BenchmarkServeHTTP measures the handler alone (no network).
func BenchmarkServeHTTP(b *testing.B) {
	s := newSim(b, cfgN(100000, 1))
	domains := okDomains(b, s, 1000)
	reqs := make([]*http.Request, 0, 2*len(domains))
	for _, d := range domains {
		for _, p := range []string{"/", "/robots.txt"} {
			reqs = append(reqs, &http.Request{Method: "GET", Host: d, URL: &url.URL{Path: p}, Header: http.Header{}})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		i := 0
		for pb.Next() {
			clear(w.h)
			s.ServeHTTP(w, reqs[i%len(reqs)])
			i++
		}
	})
}

// BenchmarkLoopback measures end-to-end requests over keep-alive loopback
// connections with a minimal client; it reports req/s.
func BenchmarkLoopback(b *testing.B) {
	s := startSim(b, cfgN(100000, 1))
	domains := okDomains(b, s, 5000)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for pb.Next() {
			d := domains[int(next.Add(1))%len(domains)]
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", d)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkServeSitePage measures the handler on the regular pages and
// home pages of sites (no network).
func BenchmarkServeSitePage(b *testing.B) {
	cfg := cfgN(100000, 1)
	cfg.Sites.Fraction = 1
	s := newSim(b, cfg)
	var reqs []*http.Request
	for _, r := range s.Sites()[:1000] {
		d := s.Domain(r)
		for _, p := range []string{"/", "/s0/p0.html", "/s0/p1.html", "/s0/p3.html"} {
			reqs = append(reqs, &http.Request{Method: "GET", Host: d, URL: &url.URL{Path: p}, Header: http.Header{}})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		i := 0
		for pb.Next() {
			clear(w.h)
			s.ServeHTTP(w, reqs[i%len(reqs)])
			i++
		}
	})
}

// BenchmarkCrawlTruth measures the truth of 1,000 sites of 50 pages at
// depth 3, domain scope, sitemaps read.
func BenchmarkCrawlTruth(b *testing.B) {
	cfg := cfgN(1000, 1)
	cfg.Sites.Fraction = 1
	s := newSim(b, cfg)
	pol := DefaultCrawlPolicy()
	pol.Sitemaps = true
	for b.Loop() {
		tr, err := s.CrawlTruth(pol)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(tr.URLs)), "urls")
	}
}
