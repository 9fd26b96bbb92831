package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// hostURLs are the URLs of one host, in file order.
type hostURLs struct {
	host string // as in the URL: lower case, no default port
	urls []*url.URL
}

// readURLs reads the URLs to fetch, grouped by host in order of first
// appearance: websim's crawl-truth.csv (header "url,depth,..."; the first
// column is taken) or one URL per line.
func readURLs(path string) ([]hostURLs, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(4)
	var next func() (string, error)
	if string(head) == "url," {
		cr := csv.NewReader(br)
		cr.FieldsPerRecord = -1
		cr.ReuseRecord = true
		if _, err := cr.Read(); err != nil { // the header
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		next = func() (string, error) {
			rec, err := cr.Read()
			if err != nil {
				return "", err
			}
			return rec[0], nil
		}
	} else {
		sc := bufio.NewScanner(br)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		next = func() (string, error) {
			for sc.Scan() {
				if l := strings.TrimSpace(sc.Text()); l != "" {
					return l, nil
				}
			}
			if err := sc.Err(); err != nil {
				return "", err
			}
			return "", io.EOF
		}
	}
	index := map[string]int{}
	var out []hostURLs
	for {
		s, err := next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s: not an absolute http(s) URL: %q", path, s)
		}
		i, ok := index[u.Host]
		if !ok {
			i = len(out)
			index[u.Host] = i
			out = append(out, hostURLs{host: u.Host})
		}
		out[i].urls = append(out[i].urls, u)
	}
}

// urlCrawler fetches given URLs: per host robots.txt first (as in the
// home-page mode: 4xx allows all, 5xx disallows all, a failed fetch fails
// every URL of the host with its class), then each URL robots.txt allows,
// redirects not followed (a 3xx is the URL's answer; its target, when a
// correct crawl fetches it, is a URL of the list itself).
type urlCrawler struct {
	client  *http.Client // no redirects followed
	robotsC *http.Client // robots.txt: redirects capped at 5
	timeout time.Duration
	delay   time.Duration
	sem     chan struct{} // requests in flight

	mu     sync.Mutex
	counts map[string]int
	ok     int
	resp   int
}

// host crawls one host; its requests go on the wire at least delay apart
// (from one request's headers written to the next one's), each holding
// one of the concurrency tokens only while in flight. Spacing the writes,
// not the decisions, keeps a new connection's dial out of the gap.
func (c *urlCrawler) host(h hostURLs) {
	var next time.Time
	var sent atomic.Int64 // Unix ns the last request's headers were written (0: none yet)
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		WroteHeaders: func() { sent.Store(time.Now().UnixNano()) },
	})
	acquire := func() {
		if c.delay > 0 {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
		c.sem <- struct{}{}
		sent.Store(0)
	}
	release := func() {
		<-c.sem
		at := time.Now()
		if ns := sent.Load(); ns != 0 {
			at = time.Unix(0, ns)
		}
		next = at.Add(c.delay)
	}

	w := &worker{timeout: c.timeout, robots: map[string]rules{}, robotsC: c.robotsC}
	acquire()
	r, err := w.getRobots(ctx, h.host)
	release()
	if err != nil {
		for range h.urls {
			c.count(classify(err))
		}
		return
	}
	for _, u := range h.urls {
		if !r.allows(u.EscapedPath()) {
			c.count(classRobots)
			continue
		}
		acquire()
		c.fetch(ctx, u)
		release()
	}
}

func (c *urlCrawler) fetch(ctx context.Context, u *url.URL) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		c.count(classOther)
		return
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.count(classify(err))
		return
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil {
		c.count(classify(err))
		return
	}
	c.mu.Lock()
	c.resp++
	if resp.StatusCode == http.StatusOK {
		c.ok++
	}
	if resp.StatusCode < 300 || resp.StatusCode >= 400 { // a 3xx is this URL's answer, not an error
		if cl := statusClass(resp.StatusCode); cl != classNotError {
			c.counts[cl]++
		}
	}
	c.mu.Unlock()
}

func (c *urlCrawler) count(class string) {
	if class == classNotError {
		return
	}
	c.mu.Lock()
	c.counts[class]++
	c.mu.Unlock()
}

// crawlURLs fetches the URLs of hosts with at most concurrency requests in
// flight. Without a delay, concurrency workers each take a whole host
// (its connection stays warm); with one, every host has a goroutine that
// waits out its delay without holding a token, so no request slot sleeps
// on a host while others are ready.
func crawlURLs(hosts []hostURLs, websim string, concurrency int, timeout, delay time.Duration) result {
	tr := newTransport(websim, concurrency)
	// Every host may keep its connection while it waits for a token or its
	// delay: this is the ceiling, it reconnects no more than it must.
	tr.MaxIdleConns = max(tr.MaxIdleConns, 2*len(hosts))
	defer tr.CloseIdleConnections()
	c := &urlCrawler{
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		robotsC: &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return errTooManyRedirects
			}
			return nil
		}},
		timeout: timeout, delay: delay,
		sem:    make(chan struct{}, concurrency),
		counts: map[string]int{},
	}
	start := time.Now()
	var wg sync.WaitGroup
	if delay == 0 {
		jobs := make(chan hostURLs)
		for range concurrency {
			wg.Go(func() {
				for h := range jobs {
					c.host(h)
				}
			})
		}
		for _, h := range hosts {
			jobs <- h
		}
		close(jobs)
	} else {
		for _, h := range hosts {
			wg.Go(func() { c.host(h) })
		}
	}
	wg.Wait()
	res := result{Tool: "raw", Errors: map[string]int{}, PagesOK: c.ok, Responses: c.resp}
	for _, cl := range allClasses {
		res.Errors[cl] = c.counts[cl]
	}
	res.WallSeconds = float64(time.Since(start).Round(time.Millisecond)) / float64(time.Second)
	return res
}
