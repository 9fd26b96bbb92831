package crawl_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/text/encoding/korean"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
	"github.com/crawlmaster/crawlmaster/internal/promtest"
)

func TestFetchOK(t *testing.T) {
	s := newSite(t)
	var ua string
	s.handle("a.test/page", func(w http.ResponseWriter, r *http.Request) {
		ua = r.UserAgent()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, htmlPage("  Hello \n\t World  "))
	})
	f := newFetcher(t, testConfig(s.addr()))
	before := time.Now()
	res := fetch(t, f, "http://a.test/page")
	wantClass(t, res, errclass.OK)
	body := htmlPage("  Hello \n\t World  ")
	switch {
	case res.Status != 200, res.URL != "http://a.test/page", res.FinalURL != "http://a.test/page":
		t.Errorf("status=%d url=%q final=%q", res.Status, res.URL, res.FinalURL)
	case res.Title != "Hello World":
		t.Errorf("title = %q", res.Title)
	case string(res.Body) != body, res.BodySize != int64(len(body)), res.Truncated:
		t.Errorf("body=%q size=%d truncated=%v", res.Body, res.BodySize, res.Truncated)
	case res.ContentHash != sha256.Sum256([]byte(body)):
		t.Error("content hash mismatch")
	case res.ContentType != "text/html; charset=utf-8":
		t.Errorf("content type %q", res.ContentType)
	case res.Err != "" || res.Redirects != 0 || res.Duration <= 0 || res.FetchedAt.Before(before):
		t.Errorf("err=%q redirects=%d duration=%v fetchedAt=%v", res.Err, res.Redirects, res.Duration, res.FetchedAt)
	}
	if ua != testConfig("").UserAgent {
		t.Errorf("User-Agent sent = %q", ua)
	}
}

func TestStatusClasses(t *testing.T) {
	s := newSite(t)
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		path       string
		status     int
		retryAfter string
		class      errclass.Class
		transient  bool
		wantRetry  time.Duration
		wantRetryH time.Duration // upper bound for HTTP-date values
	}{
		{"/404", 404, "", errclass.HTTP4xx, false, 0, 0},
		{"/410", 410, "", errclass.HTTP4xx, false, 0, 0},
		{"/500", 500, "", errclass.HTTP5xx, true, 0, 0},
		{"/503", 503, "120", errclass.HTTP5xx, true, 120 * time.Second, 0},
		{"/429", 429, date, errclass.HTTP429, true, 85 * time.Second, 91 * time.Second},
		{"/429bad", 429, "soon", errclass.HTTP429, true, 0, 0},
	}
	// One host per case: a 429 or 503 backs its host off.
	host := func(path string) string { return "h" + strings.TrimPrefix(path, "/") + ".test" }
	for _, c := range cases {
		s.handle(host(c.path)+c.path, func(w http.ResponseWriter, r *http.Request) {
			if c.retryAfter != "" {
				w.Header().Set("Retry-After", c.retryAfter)
			}
			w.WriteHeader(c.status)
			fmt.Fprint(w, "<title>error page</title>")
		})
	}
	f := newFetcher(t, testConfig(s.addr()))
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			res := fetch(t, f, "http://"+host(c.path)+c.path)
			wantClass(t, res, c.class)
			if res.Status != c.status || res.Class.Transient() != c.transient {
				t.Errorf("status=%d transient=%v", res.Status, res.Class.Transient())
			}
			if res.Body != nil || res.Title != "" {
				t.Errorf("non-2xx has body %q / title %q", res.Body, res.Title)
			}
			if res.Err == "" {
				t.Error("no error detail")
			}
			if c.wantRetryH == 0 && res.RetryAfter != c.wantRetry {
				t.Errorf("RetryAfter = %v, want %v", res.RetryAfter, c.wantRetry)
			}
			if c.wantRetryH != 0 && (res.RetryAfter < c.wantRetry || res.RetryAfter > c.wantRetryH) {
				t.Errorf("RetryAfter = %v, want in [%v, %v]", res.RetryAfter, c.wantRetry, c.wantRetryH)
			}
		})
	}
}

func TestBodyCapTruncation(t *testing.T) {
	s := newSite(t)
	big := bytes.Repeat([]byte("0123456789"), 500) // 5000 bytes
	s.handle("a.test/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(big)
	})
	s.handle("a.test/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for i := 0; i < 10; i++ {
			w.Write(big[:500])
			w.(http.Flusher).Flush() // no Content-Length
		}
	})
	s.handle("a.test/exact", func(w http.ResponseWriter, r *http.Request) {
		w.Write(big[:1000])
	})
	cfg := testConfig(s.addr())
	cfg.BodyCap = 1000
	f := newFetcher(t, cfg)
	for _, p := range []string{"/big", "/chunked"} {
		res := fetch(t, f, "http://a.test"+p)
		wantClass(t, res, errclass.OK)
		if !res.Truncated || res.BodySize != 1000 || len(res.Body) != 1000 {
			t.Errorf("%s: truncated=%v size=%d len=%d", p, res.Truncated, res.BodySize, len(res.Body))
		}
		if res.ContentHash != sha256.Sum256(big[:1000]) {
			t.Errorf("%s: hash is not of the capped body", p)
		}
	}
	res := fetch(t, f, "http://a.test/exact")
	if res.Truncated || res.BodySize != 1000 {
		t.Errorf("exact cap: truncated=%v size=%d", res.Truncated, res.BodySize)
	}
}

// TestBodyAcrossChunks reads bodies of unknown length around and across
// the 32 KiB read-chunk boundaries, whole and capped, and checks every
// byte and the hash.
func TestBodyAcrossChunks(t *testing.T) {
	s := newSite(t)
	body := make([]byte, 200<<10)
	for i := range body {
		body[i] = byte('a' + i*7%26)
	}
	s.handle("a.test/n", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Type", "text/plain")
		for off := 0; off < n; off += 5000 {
			w.Write(body[off:min(n, off+5000)])
			w.(http.Flusher).Flush() // chunked: no Content-Length
		}
	})
	const limit = 150 << 10
	cfg := testConfig(s.addr())
	cfg.BodyCap = limit
	f := newFetcher(t, cfg)
	for _, n := range []int{0, 1, 32<<10 - 1, 32 << 10, 32<<10 + 1, 64 << 10, 100000, limit, limit + 1, 200 << 10} {
		res := fetch(t, f, "http://a.test/n?n="+strconv.Itoa(n))
		wantClass(t, res, errclass.OK)
		want := body[:min(n, limit)]
		if !bytes.Equal(res.Body, want) || res.BodySize != int64(len(want)) || res.Truncated != (n > limit) {
			t.Errorf("n=%d: got %d bytes (equal %v), size %d, truncated %v; want %d bytes, truncated %v",
				n, len(res.Body), bytes.Equal(res.Body, want), res.BodySize, res.Truncated, len(want), n > limit)
		}
		if res.ContentHash != sha256.Sum256(want) {
			t.Errorf("n=%d: hash is not of the body read", n)
		}
	}
}

func TestRedirectLoop(t *testing.T) {
	s := newSite(t)
	s.handle("a.test/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/b", http.StatusFound) })
	s.handle("a.test/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/a", http.StatusFound) })
	cfg := testConfig(s.addr())
	cfg.MaxRedirects = 5
	f := newFetcher(t, cfg)
	res := fetch(t, f, "http://a.test/a")
	wantClass(t, res, errclass.TooManyRedirects)
	if res.Class.Transient() || res.Redirects != 5 {
		t.Errorf("transient=%v redirects=%d", res.Class.Transient(), res.Redirects)
	}
	if got := s.count("a.test/a") + s.count("a.test/b"); got != 6 {
		t.Errorf("%d requests, want 6 (first + 5 redirects)", got)
	}
}

func TestRedirectToOtherScheme(t *testing.T) {
	s := newSite(t)
	s.handle("a.test/ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://a.test/file", http.StatusFound)
	})
	f := newFetcher(t, testConfig(s.addr()))
	res := fetch(t, f, "http://a.test/ftp")
	wantClass(t, res, errclass.InvalidURL)
	if res.FinalURL != "ftp://a.test/file" {
		t.Errorf("final = %q", res.FinalURL)
	}
}

func TestTimeout(t *testing.T) {
	s := newSite(t)
	s.handle("a.test/hang-headers", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	s.handle("a.test/hang-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<title>partial"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	cfg := testConfig(s.addr())
	cfg.Timeout = 150 * time.Millisecond
	cfg.ConnectTimeout = cfg.Timeout // may not exceed it
	f := newFetcher(t, cfg)
	for _, p := range []string{"/hang-headers", "/hang-body"} {
		start := time.Now()
		res := fetch(t, f, "http://a.test"+p)
		wantClass(t, res, errclass.Timeout)
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("%s took %v with Timeout 150ms", p, el)
		}
		if !res.Class.Transient() || res.Body != nil {
			t.Errorf("%s: transient=%v body=%q", p, res.Class.Transient(), res.Body)
		}
	}
}

func TestCallerCancel(t *testing.T) {
	s := newSite(t)
	entered := make(chan struct{}, 1)
	s.handle("a.test/slow", func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-r.Context().Done()
	})
	f := newFetcher(t, testConfig(s.addr()))

	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-entered; cancel() }()
	res := f.Fetch(ctx, crawl.Request{URL: "http://a.test/slow", FollowRedirects: true})
	wantClass(t, res, errclass.Canceled)

	// The caller's own deadline is also "canceled", not our timeout.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	res = f.Fetch(ctx2, crawl.Request{URL: "http://a.test/slow", FollowRedirects: true})
	wantClass(t, res, errclass.Canceled)

	// Already cancelled: no request at all.
	before := s.count("a.test/slow")
	res = f.Fetch(ctx, crawl.Request{URL: "http://a.test/slow", FollowRedirects: true})
	wantClass(t, res, errclass.Canceled)
	if s.count("a.test/slow") != before {
		t.Error("request sent with a cancelled context")
	}
}

func TestClosedWorldDNSNotFound(t *testing.T) {
	s := newSite(t)
	f := newFetcher(t, testConfig(s.addr()))
	for _, u := range []string{"http://unknown.example/", "http://test/", "https://localhost/"} {
		res := fetch(t, f, u)
		wantClass(t, res, errclass.DNSNotFound)
	}
}

func TestResolveRulePrecedence(t *testing.T) {
	s := newSite(t)
	cfg := testConfig("127.0.0.1:1") // *.test -> a closed port
	cfg.Resolve = append(cfg.Resolve,
		fetchconfig.ResolveRule{Pattern: "ok.test", Addr: s.addr()},
		fetchconfig.ResolveRule{Pattern: "*.sub.test", Addr: s.addr()})
	f := newFetcher(t, cfg)
	wantClass(t, fetch(t, f, "http://ok.test/"), errclass.OK)
	wantClass(t, fetch(t, f, "http://x.sub.test/"), errclass.OK)
	wantClass(t, fetch(t, f, "http://other.test/"), errclass.ConnRefused)
}

// refusedAddr returns a loopback address that refuses connections: a
// socket bound to a port but not listening. Unlike a port that was free a
// moment ago, no one else can listen there while the test holds it.
func refusedAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

func TestConnRefused(t *testing.T) {
	f := newFetcher(t, testConfig(refusedAddr(t)))
	res := fetch(t, f, "http://refused.test/")
	wantClass(t, res, errclass.ConnRefused)
	if !res.Class.Transient() {
		t.Error("conn_refused must be transient")
	}
}

func TestConnResetAndProtocol(t *testing.T) {
	s := newSite(t)
	s.handle("a.test/eof", func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	})
	s.handle("a.test/garbage", func(w http.ResponseWriter, r *http.Request) {
		c, buf, _ := w.(http.Hijacker).Hijack()
		buf.WriteString("SMTP ready\r\n\r\n")
		buf.Flush()
		c.Close()
	})
	s.handle("a.test/short", func(w http.ResponseWriter, r *http.Request) {
		c, buf, _ := w.(http.Hijacker).Hijack()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/html\r\n\r\n<title>x")
		buf.Flush()
		c.Close()
	})
	s.handle("a.test/badchunk", func(w http.ResponseWriter, r *http.Request) {
		c, buf, _ := w.(http.Hijacker).Hijack()
		buf.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
		buf.Flush()
		c.Close()
	})
	f := newFetcher(t, testConfig(s.addr()))
	wantClass(t, fetch(t, f, "http://a.test/eof"), errclass.ConnReset)
	wantClass(t, fetch(t, f, "http://a.test/garbage"), errclass.Protocol)
	res := fetch(t, f, "http://a.test/short")
	wantClass(t, res, errclass.ConnReset)
	if res.Status != 200 || res.Body != nil {
		t.Errorf("short body: status=%d body=%q", res.Status, res.Body)
	}
	wantClass(t, fetch(t, f, "http://a.test/badchunk"), errclass.Protocol)
}

// TestCutOffBodies: a transfer that ends before its Content-Length or its
// last chunk is an error however the body is read (exact allocation or
// pooled chunks, one chunk or several), never a complete page.
func TestCutOffBodies(t *testing.T) {
	s := newSite(t)
	cutOff := func(head string, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			c, buf, _ := w.(http.Hijacker).Hijack()
			buf.WriteString(head)
			buf.Write(body)
			buf.Flush()
			c.Close()
		}
	}
	big := bytes.Repeat([]byte("x"), 100<<10)
	s.handle("a.test/chunked-short", cutOff("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n8\r\n<title>x", nil))
	s.handle("a.test/chunked-long", cutOff("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n"+
		strconv.FormatInt(200<<10, 16)+"\r\n", big))
	s.handle("a.test/over-cap", cutOff("HTTP/1.1 200 OK\r\nContent-Length: 999999\r\nContent-Type: text/html\r\n\r\n", big[:1000]))
	cfg := testConfig(s.addr())
	cfg.BodyCap = 500 << 10 // below 999999: the chunked read path
	f := newFetcher(t, cfg)
	for _, p := range []string{"/chunked-short", "/chunked-long", "/over-cap"} {
		res := fetch(t, f, "http://a.test"+p)
		wantClass(t, res, errclass.ConnReset)
		if res.Body != nil {
			t.Errorf("%s: cut-off body kept (%d bytes)", p, len(res.Body))
		}
	}

	// A robots.txt cut off before its Content-Length is unavailable, not a
	// shorter file: the Disallow it lost must not allow the page.
	s.handle("b.test/robots.txt", cutOff("HTTP/1.1 200 OK\r\nContent-Length: 200\r\nContent-Type: text/plain\r\n\r\n", []byte("User-agent: *\n")))
	s.handle("b.test/private", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) })
	res := fetch(t, f, "http://b.test/private")
	wantClass(t, res, errclass.RobotsUnavailable)
	if n := s.count("b.test/private"); n != 0 {
		t.Errorf("page fetched %d times after a cut-off robots.txt", n)
	}
}

func TestTLSError(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	f := newFetcher(t, testConfig(srv.Listener.Addr().String()))
	res := fetch(t, f, "https://tls.test/")
	wantClass(t, res, errclass.TLS)
	if res.Class.Transient() {
		t.Error("tls must be permanent")
	}
}

func TestInvalidURL(t *testing.T) {
	f := newFetcher(t, testConfig("127.0.0.1:1"))
	for _, u := range []string{"", "ftp://a.test/", "http://", "/relative", "http://user:pw@a.test/", "http://a.test/%zz", "mailto:x@a.test"} {
		res := fetch(t, f, u)
		if res.Class != errclass.InvalidURL || res.Class.Transient() || res.URL != u {
			t.Errorf("%q: class=%q url=%q err=%q", u, res.Class, res.URL, res.Err)
		}
	}
}

func TestTitles(t *testing.T) {
	s := newSite(t)
	euckr, err := korean.EUCKR.NewEncoder().String("한국어 제목")
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string]struct {
		ct, body, want string
	}{
		"/plain":    {"text/plain", "<title>not html</title>", ""},
		"/json":     {"application/json", `{"title":"<title>x</title>"}`, ""},
		"/latin1":   {"text/html; charset=ISO-8859-1", "<title>Caf\xe9 cr\xe8me</title>", "Café crème"},
		"/euckr":    {"text/html", `<html><head><meta charset="euc-kr"><title>` + euckr + `</title>`, "한국어 제목"},
		"/euckr-he": {"text/html", `<meta http-equiv="Content-Type" content="text/html; charset=euc-kr"><title>` + euckr + `</title>`, "한국어 제목"},
		"/broken":   {"text/html", "<html><head><title>Broken <b>bold</b> &amp; co", "Broken <b>bold</b> & co"},
		"/xhtml":    {"application/xhtml+xml", "<html><head><title>X&#233;</title></head></html>", "Xé"},
		"/nosniff":  {"", "<!DOCTYPE html><html><head><title>Sniffed</title>", "Sniffed"},
		"/inbody":   {"text/html", "<html><body><svg><title>icon</title></svg></body>", ""},
	}
	for p, pg := range pages {
		s.handle("a.test"+p, func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			if pg.ct != "" {
				w.Header().Set("Content-Type", pg.ct)
			}
			w.Write([]byte(pg.body))
		})
	}
	f := newFetcher(t, testConfig(s.addr()))
	for p, pg := range pages {
		t.Run(p, func(t *testing.T) {
			res := fetch(t, f, "http://a.test"+p)
			wantClass(t, res, errclass.OK)
			if res.Title != pg.want {
				t.Errorf("title = %q, want %q (content type %q)", res.Title, pg.want, res.ContentType)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	s := newSite(t)
	s.robots("a.test", "User-agent: *\nDisallow: /no\n")
	reg := prometheus.NewRegistry()
	f, err := crawl.New(testConfig(s.addr()), crawl.Deps{Metrics: crawl.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	ok := fetch(t, f, "http://a.test/yes")
	fetch(t, f, "http://a.test/no")
	s.handle("a.test/gone", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) })
	fetch(t, f, "http://a.test/gone")

	check := func(name string, labels map[string]string, want float64) {
		t.Helper()
		if got := promtest.Value(t, reg, name, labels); got != want {
			t.Errorf("%s%v = %v, want %v", name, labels, got, want)
		}
	}
	check("crawl_fetch_duration_seconds", map[string]string{"class": "ok"}, 1)
	check("crawl_fetch_duration_seconds", map[string]string{"class": "robots_disallowed"}, 1)
	check("crawl_fetch_errors_total", map[string]string{"class": "http_4xx"}, 1)
	check("crawl_fetch_errors_total", map[string]string{"class": "robots_disallowed"}, 1)
	check("crawl_fetched_bytes_total", nil, float64(ok.BodySize))
	check("crawl_robots_cache_misses_total", nil, 1)
	check("crawl_robots_cache_hits_total", nil, 2)
	check("crawl_robots_fetches_total", map[string]string{"result": "2xx"}, 1)

	// A second Metrics on the same registry reuses the collectors.
	crawl.NewMetrics(reg)
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if n := lp.GetName(); n != "class" && n != "result" && n != "kind" && n != "reason" {
					t.Errorf("%s has unexpected label %q", mf.GetName(), n)
				}
				if strings.Contains(lp.GetValue(), ".test") {
					t.Errorf("%s has a host in a label: %q", mf.GetName(), lp.GetValue())
				}
			}
		}
	}
}

func TestNilLoggerNilMetricsResolverWarning(t *testing.T) {
	var logs bytes.Buffer
	logger := slogToBuffer(&logs)
	_, err := crawl.New(testConfig("127.0.0.1:1"), crawl.Deps{Log: logger})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "resolver override ON") || !strings.Contains(logs.String(), "WARN") {
		t.Errorf("no resolver warning logged: %q", logs.String())
	}
	logs.Reset()
	cfg := testConfig("")
	cfg.Resolve = nil
	if _, err := crawl.New(cfg, crawl.Deps{Log: logger}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "resolver override") {
		t.Errorf("resolver warning without rules: %q", logs.String())
	}
	if _, err := crawl.New(fetchconfig.Config{}, crawl.Deps{}); err == nil {
		t.Error("New accepted a zero Config")
	}
}
