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
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	maxBody       = 1 << 20  // page bytes read before the body is dropped
	maxRobotsBody = 64 << 10 // robots.txt bytes parsed
	maxRedirects  = 5
)

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

var (
	errRobotsBlocked     = errors.New("blocked by robots.txt")
	errTooManyRedirects  = errors.New("stopped after 5 redirects")
	errRobotsUnavailable = errors.New("robots.txt unavailable (5xx): disallow all")
)

type result struct {
	Tool        string         `json:"tool"`
	PagesOK     int            `json:"pages_ok"`
	Responses   int            `json:"responses"`
	Errors      map[string]int `json:"errors"`
	WallSeconds float64        `json:"wall_seconds"`
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("rawlimit: ")
	list := flag.String("list", "", "Tranco-style list: rank,domain lines (required)")
	websim := flag.String("websim", "", "websim address host:port that every *.test host connects to (required)")
	concurrency := flag.Int("concurrency", 64, "worker goroutines = max requests in flight")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request timeout (headers and body)")
	limit := flag.Int("limit", 0, "crawl only the first N domains of the list (0: all)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the crawl to this file")
	urlsPath := flag.String("urls", "", "fetch exactly these URLs instead of the list's home pages: websim's crawl-truth.csv (first column) or one URL per line")
	delay := flag.Duration("delay", 0, "with --urls: least time between the starts of two requests to one host, robots.txt included")
	flag.Parse()
	if (*list == "" && *urlsPath == "") || *websim == "" || *concurrency < 1 || *timeout <= 0 || *limit < 0 || *delay < 0 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	var domains []string
	var hosts []hostURLs
	var err error
	if *urlsPath != "" {
		hosts, err = readURLs(*urlsPath)
	} else {
		domains, err = readList(*list, *limit)
	}
	if err != nil {
		log.Print(err)
		os.Exit(2)
	}
	if *urlsPath != "" {
		log.Printf("fetching the URLs of %d hosts, concurrency %d, timeout %v, delay %v, websim %s", len(hosts), *concurrency, *timeout, *delay, *websim)
	} else {
		log.Printf("crawling %d domains, concurrency %d, timeout %v, websim %s", len(domains), *concurrency, *timeout, *websim)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	var res result
	if *urlsPath != "" {
		res = crawlURLs(hosts, *websim, *concurrency, *timeout, *delay)
	} else {
		res = crawl(domains, *websim, *concurrency, *timeout)
	}
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

// newTransport returns the shared transport: *.test dials websim, anything
// else fails like an unknown name, without connecting.
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

// rules are the Disallow prefixes of robots.txt's "User-agent: *" groups.
type rules []string

func (r rules) allows(path string) bool {
	if path == "" {
		path = "/"
	}
	for _, p := range r {
		if strings.HasPrefix(path, p) {
			return false
		}
	}
	return true
}

// parseRobots keeps the Disallow lines of the groups naming "*".
func parseRobots(body []byte) rules {
	var out rules
	star, inRules := false, false
	for line := range strings.Lines(string(body)) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		switch key {
		case "user-agent":
			if inRules { // a user-agent after rules starts a new group
				star, inRules = false, false
			}
			if val == "*" {
				star = true
			}
		case "disallow":
			inRules = true
			if star && val != "" {
				out = append(out, val)
			}
		default:
			inRules = true
		}
	}
	return out
}

// worker crawls domains with one client; its robots cache lives as long as
// a domain (hops may add its www. alias).
type worker struct {
	client  *http.Client // page client: every redirect hop checked against robots.txt
	robotsC *http.Client // robots.txt client: redirects only capped
	timeout time.Duration
	robots  map[string]rules
	counts  map[string]int
	ok      int
	resp    int
}

// getRobots returns the rules of host, fetching them once per domain.
func (w *worker) getRobots(ctx context.Context, host string) (rules, error) {
	if r, ok := w.robots[host]; ok {
		return r, nil
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/robots.txt", nil)
	if err != nil {
		return nil, err
	}
	resp, err := w.robotsC.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r rules
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxRobotsBody))
		if err != nil {
			return nil, err
		}
		r = parseRobots(body)
	case resp.StatusCode >= 500:
		return nil, errRobotsUnavailable
	default: // 4xx: allow all (as any other status websim never sends)
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxRobotsBody))
	}
	w.robots[host] = r
	return r, nil
}

func (w *worker) count(class string) {
	if class != classNotError {
		w.counts[class]++
	}
}

func (w *worker) crawlDomain(domain string) {
	clear(w.robots)
	ctx := context.Background()
	r, err := w.getRobots(ctx, domain)
	if err != nil {
		w.count(classify(err))
		return
	}
	if !r.allows("/") {
		w.count(classRobots)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+domain+"/", nil)
	if err != nil {
		w.count(classOther)
		return
	}
	resp, err := w.client.Do(req)
	if err != nil {
		w.count(classify(err))
		return
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil { // a body cut short: the response is not complete
		w.count(classify(err))
		return
	}
	w.resp++
	if resp.StatusCode == http.StatusOK {
		w.ok++
	}
	w.count(statusClass(resp.StatusCode))
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

// classify maps a request error to its class.
func classify(err error) string {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, errRobotsBlocked), errors.Is(err, errRobotsUnavailable):
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

func crawl(domains []string, websim string, concurrency int, timeout time.Duration) result {
	tr := newTransport(websim, concurrency)
	defer tr.CloseIdleConnections()
	start := time.Now()
	jobs := make(chan string)
	results := make(chan *worker, concurrency)
	var wg sync.WaitGroup
	capRedirects := func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return errTooManyRedirects
		}
		return nil
	}
	robotsClient := &http.Client{Transport: tr, CheckRedirect: capRedirects}
	for range concurrency {
		w := &worker{timeout: timeout, robots: map[string]rules{}, counts: map[string]int{}, robotsC: robotsClient}
		w.client = &http.Client{
			Transport: tr,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if err := capRedirects(req, via); err != nil {
					return err
				}
				r, err := w.getRobots(req.Context(), req.URL.Host)
				if err != nil {
					return err
				}
				if !r.allows(req.URL.EscapedPath()) {
					return errRobotsBlocked
				}
				return nil
			},
		}
		wg.Go(func() {
			for d := range jobs {
				w.crawlDomain(d)
			}
			results <- w
		})
	}
	for _, d := range domains {
		jobs <- d
	}
	close(jobs)
	wg.Wait()
	close(results)

	res := result{Tool: "raw", Errors: map[string]int{}}
	for _, c := range allClasses {
		res.Errors[c] = 0
	}
	for w := range results {
		res.PagesOK += w.ok
		res.Responses += w.resp
		for c, n := range w.counts {
			res.Errors[c] += n
		}
	}
	res.WallSeconds = float64(time.Since(start).Round(time.Millisecond)) / float64(time.Second)
	return res
}
