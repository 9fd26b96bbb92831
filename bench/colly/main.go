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
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gocolly/colly/v2"
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

func main() {
	log.SetFlags(0)
	log.SetPrefix("colly: ")
	list := flag.String("list", "", "Tranco-style list: rank,domain lines (required)")
	websim := flag.String("websim", "", "websim address host:port that every *.test host connects to (required)")
	concurrency := flag.Int("concurrency", 64, "LimitRule parallelism: max page requests in flight")
	timeout := flag.Duration("timeout", 5*time.Second, "request timeout (Collector.SetRequestTimeout)")
	limit := flag.Int("limit", 0, "crawl only the first N domains of the list (0: all)")
	visitors := flag.Int("visitors", 1, "goroutines calling Collector.Visit (robots.txt is fetched inside Visit)")
	flag.Parse()
	if *list == "" || *websim == "" || *concurrency < 1 || *timeout <= 0 || *limit < 0 || *visitors < 1 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	domains, err := readList(*list, *limit)
	if err != nil {
		log.Print(err)
		os.Exit(2)
	}
	log.Printf("crawling %d domains, concurrency %d, timeout %v, visitors %d, websim %s",
		len(domains), *concurrency, *timeout, *visitors, *websim)

	res := crawl(domains, *websim, *concurrency, *timeout, *visitors)
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

func crawl(domains []string, websim string, concurrency int, timeout time.Duration, visitors int) result {
	t := &tally{result: result{Tool: "colly", Errors: map[string]int{}}}
	for _, c := range allClasses {
		t.Errors[c] = 0
	}

	c := colly.NewCollector(colly.Async(true), colly.MaxDepth(1))
	c.IgnoreRobotsTxt = false
	if err := c.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: concurrency}); err != nil {
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
			t.fail(classify(err))
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
