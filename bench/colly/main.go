// Command colly is the Colly peer of crawlmaster's benchmark: a stock
// gocolly/colly/v2 collector crawling http://<domain>/ of every listed
// domain, robots.txt obeyed, one page per domain.
//
//	colly --list tranco.csv --websim 127.0.0.1:PORT --concurrency N \
//	    --timeout 5s [--limit N] [--visitors K]
//
// The collector is Async with one LimitRule{DomainGlob: "*", Parallelism:
// N} (one semaphore shared by all domains), MaxDepth 1, IgnoreRobotsTxt
// false, SetRequestTimeout(--timeout) and at most 5 redirects. Its
// transport connects every *.test host to the websim address and fails
// every other host with a "no such host" *net.DNSError; Colly fetches
// robots.txt through the same client.
//
// Colly checks robots.txt synchronously inside Collector.Visit, before the
// request is handed to a goroutine and outside the LimitRule: the
// robots.txt fetches of a plain "for each seed: Visit" loop (the default,
// --visitors 1) run one at a time, and their failures (DNS, timeout,
// ErrRobotsTxtBlocked) are returned by Visit instead of reaching OnError.
// --visitors K calls Visit from K goroutines instead. Colly does not check
// robots.txt on redirect hops.
//
// --depth D makes it a site crawl: MaxDepth(D+1) (Colly counts the seed as
// depth 1), and an OnHTML callback visits the links of every 2xx HTML page
// (<a href>, <area href>, <frame src>, <iframe src>, through Colly's
// AbsoluteURL, which honours <base href>), http(s) only, rel=nofollow
// skipped, and only to hosts with the page's registrable domain (domain
// scope relative to the seed; AllowedDomains would admit links from one
// seed's site to another's and scans every listed domain per link).
// Colly's visited set is checked after robots.txt, so a disallowed link
// seen on many pages fails many Visits: each URL is counted once. Colly
// checks and marks a URL visited in two steps, so two pages linking one
// URL at the same moment may both fetch it (websim's timeline shows it).
//
// --delay D adds politeness: one LimitRule{DomainGlob: <domain>, Delay: D,
// Parallelism: 1} per listed domain and one for its www. alias. A
// LimitRule has a single semaphore for every host its glob matches
// (httpBackend.Do), so one rule with DomainGlob "*" would crawl one host
// at a time in all. Colly sleeps Delay after each response while holding
// the host's semaphore (start to start: latency + Delay), fetches
// robots.txt outside the rules (a host's first page follows its
// robots.txt at once), and follows redirects inside the request without
// delay. There is then no global limit on requests in flight (at most one
// per host).
//
// On completion it prints one JSON line on stdout, like the other peers:
//
//	{"tool":"colly","pages_ok":N,"responses":N,"errors":{...},"wall_seconds":X}
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gocolly/colly/v2"
	"golang.org/x/net/publicsuffix"
)

const maxRedirects = 5

// Error classes of the JSON contract.
const (
	classHTTP4xx  = "http_4xx"
	classHTTP5xx  = "http_5xx"
	classTimeout  = "timeout"
	classDNS      = "dns"
	classConn     = "conn"
	classRobots   = "robots_disallowed"
	classOther    = "other"
	classNotError = ""
)

var allClasses = []string{classHTTP4xx, classHTTP5xx, classTimeout, classDNS, classConn, classRobots, classOther}

var errTooManyRedirects = errors.New("stopped after 5 redirects")

type result struct {
	Tool        string         `json:"tool"`
	PagesOK     int            `json:"pages_ok"`
	Responses   int            `json:"responses"`
	Errors      map[string]int `json:"errors"`
	WallSeconds float64        `json:"wall_seconds"`
}

// tally is the shared result, updated from Colly's goroutines.
type tally struct {
	mu sync.Mutex
	result
	failedURLs map[string]bool // Visit failures already counted
}

func (t *tally) response(status int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.Responses++
	if status == http.StatusOK {
		t.PagesOK++
	}
	if c := statusClass(status); c != classNotError {
		t.Errors[c]++
	}
}

func (t *tally) fail(class string) {
	t.mu.Lock()
	t.Errors[class]++
	t.mu.Unlock()
}

// visitFailed counts an error returned by Visit. Colly checks robots.txt
// before its visited set, so a disallowed link found on many pages fails
// every Visit: it is counted once per URL. Refusals that are not fetch
// outcomes (already visited, too deep, outside the allowed domains) are
// not counted.
func (t *tally) visitFailed(u string, err error) {
	var visited *colly.AlreadyVisitedError
	switch {
	case errors.As(err, &visited), errors.Is(err, colly.ErrMaxDepth), errors.Is(err, colly.ErrForbiddenDomain),
		errors.Is(err, colly.ErrMissingURL), errors.Is(err, colly.ErrForbiddenURL), errors.Is(err, colly.ErrNoURLFiltersMatch):
		return
	}
	class := classify(err)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failedURLs == nil {
		t.failedURLs = map[string]bool{}
	}
	if t.failedURLs[u] {
		return
	}
	t.failedURLs[u] = true
	t.Errors[class]++
}

// followLinks makes the collector follow the links of every HTML page:
// <a href>, <area href>, <frame src>, <iframe src> (resolved against the
// page's <base href>, which Colly honours), http(s) only, rel=nofollow
// skipped, and only to hosts with the page's registrable domain (domain
// scope; the page itself has its seed's). That filter is Colly's
// AllowedDomains made relative to the seed, and costs one public-suffix
// lookup per link instead of a scan of every listed domain.
func followLinks(c *colly.Collector, t *tally) {
	follow := func(e *colly.HTMLElement, attr string) {
		if rel := e.Attr("rel"); rel != "" && hasToken(rel, "nofollow") {
			return
		}
		abs := e.Request.AbsoluteURL(e.Attr(attr))
		if abs == "" {
			return
		}
		u, err := url.Parse(abs)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			return
		}
		if site(u.Hostname()) != site(e.Request.URL.Hostname()) {
			return
		}
		if err := e.Request.Visit(abs); err != nil {
			t.visitFailed(abs, err)
		}
	}
	c.OnHTML("a[href], area[href]", func(e *colly.HTMLElement) { follow(e, "href") })
	c.OnHTML("frame[src], iframe[src]", func(e *colly.HTMLElement) { follow(e, "src") })
}

// site is a host's registrable domain (eTLD+1 by the Public Suffix List;
// the host itself when it has none).
func site(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if s, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return s
	}
	return host
}

func hasToken(list, token string) bool {
	for _, f := range strings.Fields(strings.ToLower(list)) {
		if f == token {
			return true
		}
	}
	return false
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("colly: ")
	list := flag.String("list", "", "Tranco-style list: rank,domain lines (required)")
	websim := flag.String("websim", "", "websim address host:port that every *.test host connects to (required)")
	concurrency := flag.Int("concurrency", 64, "LimitRule parallelism: max page requests in flight")
	timeout := flag.Duration("timeout", 5*time.Second, "request timeout (Collector.SetRequestTimeout)")
	limit := flag.Int("limit", 0, "crawl only the first N domains of the list (0: all)")
	visitors := flag.Int("visitors", 1, "goroutines calling Collector.Visit (robots.txt is fetched inside Visit)")
	depth := flag.Int("depth", 0, "site crawl: follow links up to this many hops from each home page, within the home page's registrable domain (0: home pages only)")
	delay := flag.Duration("delay", 0, "politeness: one LimitRule{Delay, Parallelism: 1} per listed domain and per its www. alias (0: one rule for all, Parallelism --concurrency)")
	flag.Parse()
	if *list == "" || *websim == "" || *concurrency < 1 || *timeout <= 0 || *limit < 0 || *visitors < 1 || *depth < 0 || *delay < 0 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	domains, err := readList(*list, *limit)
	if err != nil {
		log.Print(err)
		os.Exit(2)
	}
	log.Printf("crawling %d domains, concurrency %d, timeout %v, visitors %d, depth %d, delay %v, websim %s",
		len(domains), *concurrency, *timeout, *visitors, *depth, *delay, *websim)

	res := crawl(domains, *websim, *concurrency, *timeout, *visitors, *depth, *delay)
	out, _ := json.Marshal(res)
	fmt.Printf("%s\n", out)
}

// readList reads "rank,domain" lines (CRLF or LF, no header); a line
// without a comma is taken as a bare domain.
func readList(path string, limit int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var domains []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if _, d, ok := strings.Cut(line, ","); ok {
			line = strings.TrimSpace(d)
		}
		domains = append(domains, strings.ToLower(line))
		if limit > 0 && len(domains) == limit {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return domains, nil
}

// newTransport connects *.test to websim; anything else fails like an
// unknown name, without connecting.
func newTransport(websim string, concurrency int) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				host = address
			}
			host = strings.TrimSuffix(strings.ToLower(host), ".")
			if !strings.HasSuffix(host, ".test") {
				return nil, &net.OpError{Op: "dial", Net: network,
					Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
			}
			return d.DialContext(ctx, "tcp", websim)
		},
		MaxIdleConns:        2 * concurrency,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
}

func crawl(domains []string, websim string, concurrency int, timeout time.Duration, visitors, depth int, delay time.Duration) result {
	t := &tally{result: result{Tool: "colly", Errors: map[string]int{}}}
	for _, c := range allClasses {
		t.Errors[c] = 0
	}

	// Colly's depth counts the seed as 1.
	c := colly.NewCollector(colly.Async(true), colly.MaxDepth(depth+1))
	c.IgnoreRobotsTxt = false
	if delay > 0 {
		// A LimitRule has one semaphore, shared by every host its glob
		// matches (httpBackend.Do: r.waitChan), and sleeps Delay after the
		// response while holding it. One rule per host makes the limit
		// per host, as the politeness of the other contenders is.
		// GetMatchingRule scans the rules in order: fine for hundreds.
		var rules []*colly.LimitRule
		for _, d := range domains {
			rules = append(rules, &colly.LimitRule{DomainGlob: d, Delay: delay, Parallelism: 1},
				&colly.LimitRule{DomainGlob: "www." + d, Delay: delay, Parallelism: 1})
		}
		if err := c.Limits(rules); err != nil {
			log.Fatal(err)
		}
	} else if err := c.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: concurrency}); err != nil {
		log.Fatal(err)
	}
	tr := newTransport(websim, concurrency)
	defer tr.CloseIdleConnections()
	c.WithTransport(tr)
	c.SetRequestTimeout(timeout)
	c.SetRedirectHandler(func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return errTooManyRedirects
		}
		return nil
	})

	c.OnResponse(func(r *colly.Response) { t.response(r.StatusCode) })
	if depth > 0 {
		followLinks(c, t)
	}
	c.OnError(func(r *colly.Response, err error) {
		// Colly reports a status >= 203 as an error with the response.
		if r != nil && r.StatusCode > 0 {
			t.response(r.StatusCode)
			return
		}
		t.fail(classify(err))
	})

	start := time.Now()
	visit := func(d string) {
		if err := c.Visit("http://" + d + "/"); err != nil {
			// robots.txt verdicts and failures surface here, not in OnError.
			t.visitFailed("http://"+d+"/", err)
		}
	}
	if visitors == 1 {
		for _, d := range domains {
			visit(d)
		}
	} else {
		jobs := make(chan string)
		var wg sync.WaitGroup
		for range visitors {
			wg.Go(func() {
				for d := range jobs {
					visit(d)
				}
			})
		}
		for _, d := range domains {
			jobs <- d
		}
		close(jobs)
		wg.Wait()
	}
	c.Wait()
	t.WallSeconds = float64(time.Since(start).Round(time.Millisecond)) / float64(time.Second)
	return t.result
}

func statusClass(code int) string {
	switch {
	case code >= 200 && code < 300:
		return classNotError
	case code >= 400 && code < 500:
		return classHTTP4xx
	case code >= 500 && code < 600:
		return classHTTP5xx
	default:
		return classOther
	}
}

// classify maps a Visit or OnError error to its class.
func classify(err error) string {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, colly.ErrRobotsTxtBlocked):
		return classRobots
	case errors.Is(err, errTooManyRedirects):
		return classOther
	case errors.As(err, &dnsErr):
		return classDNS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return classTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return classConn
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return classConn
	}
	return classOther
}
