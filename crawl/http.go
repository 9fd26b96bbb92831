package crawl

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/crawl/urlnorm"
)

// MaxRetryAfter caps Result.RetryAfter so a bogus header cannot park a URL
// for years (or overflow time.Duration).
const MaxRetryAfter = 24 * time.Hour

// maxRobotsRedirects follows Google: at least five hops for robots.txt,
// then treat it as not found.
const maxRobotsRedirects = 5

// MaxHeaderBytes caps a response's header section (status line and
// headers; for HTTP/2 the decoded header list): a longer one ends the
// fetch as errclass.Protocol (a robots.txt one makes the origin
// unavailable).
const MaxHeaderBytes = 256 << 10

// idleConnTimeout keeps a host's connection long enough for robots.txt then
// the page (and the next page after a politeness delay) to reuse it.
const idleConnTimeout = 30 * time.Second

var (
	acceptHeader = []string{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
)

// httpFetcher is the bottom of the stack: one GET with redirects, capped
// body read, hashing and title extraction. It knows nothing of robots or
// politeness except the checkHop hook called on every redirect.
type httpFetcher struct {
	cfg            fetchconfig.Config
	dialer         *dialer // every connection: resolve override, SSRF guard
	transport      *http.Transport
	client         *http.Client // pages: redirect policy + robots hop hook
	noFollowClient *http.Client // pages of Request.FollowRedirects false: the 3xx is the answer
	robotsClient   *http.Client // robots.txt: plain redirect limit, no hook (no recursion)
	sitemapClient  *http.Client // sitemaps: same-host, robots-checked redirects
	uaHeader       []string
	agent          string // robots.txt product token, lowercase

	// checkHop, when set, vets each redirect target before it is requested
	// (the robots layer installs it). An error stops the fetch; it should be
	// a *classedError carrying the class and target.
	checkHop func(ctx context.Context, target *url.URL) error
	// sitemapHop vets a sitemap redirect target (same host as the first
	// URL, allowed by robots.txt).
	sitemapHop func(ctx context.Context, target *url.URL, via []*http.Request) error

	bufPool sync.Pool // *[]byte read buffers for bodies of unknown length
}

func newHTTPFetcher(cfg fetchconfig.Config, logger *slog.Logger, afterGuard func(network, address string) error) *httpFetcher {
	d := newDialer(cfg.ConnectTimeout, newRuleIndex(cfg.Resolve), netguard.New(cfg.AllowedPrefixes()), afterGuard)
	if d.rules != nil {
		logger.Warn("resolver override ON", "rules", d.rules.String(),
			"effect", "DNS is bypassed; hosts matching no rule fail as dns_not_found")
	}
	if len(cfg.AllowedNetworks) > 0 {
		logger.Info("special-purpose networks allowed", "allowed_networks", fmt.Sprint(cfg.AllowedPrefixes()),
			"effect", "addresses of these networks are fetched although loopback, private, link-local or reserved")
	}
	tr := &http.Transport{
		Proxy:                  nil, // a crawler must not silently go through $HTTP_PROXY
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true, // custom DialContext would otherwise disable h2
		MaxIdleConns:           cfg.MaxIdleConns,
		MaxIdleConnsPerHost:    2, // robots + page share one; politeness serialises a host
		IdleConnTimeout:        idleConnTimeout,
		TLSHandshakeTimeout:    cfg.ConnectTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: MaxHeaderBytes, // bounded per-response memory
	}
	f := &httpFetcher{
		cfg:       cfg,
		dialer:    d,
		transport: tr,
		uaHeader:  []string{cfg.UserAgent},
		agent:     fetchconfig.ProductToken(cfg.UserAgent),
	}
	rt := wireTimed{tr} // politeness counts from the wire (onwire.go)
	f.client = &http.Client{Transport: rt, CheckRedirect: f.checkRedirect}
	f.noFollowClient = &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	f.robotsClient = &http.Client{Transport: rt, CheckRedirect: checkRobotsRedirect}
	f.sitemapClient = &http.Client{Transport: rt, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if f.sitemapHop == nil {
			return http.ErrUseLastResponse
		}
		return f.sitemapHop(req.Context(), req.URL, via)
	}}
	return f
}

// parseFetchURL accepts absolute http(s) URLs with a host and no userinfo
// (credentials would be sent as Basic auth to whoever answers).
func parseFetchURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid url %q: scheme must be http or https", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("invalid url %q: empty host", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("invalid url %q: userinfo not allowed", raw)
	}
	return u, nil
}

// Fetch performs the GET. It blocks for at most cfg.Timeout.
func (f *httpFetcher) Fetch(ctx context.Context, req Request) *Result {
	raw := req.URL
	res := newResult(raw)
	if _, err := parseFetchURL(raw); err != nil {
		return res.fail(errclass.InvalidURL, err)
	}
	if c, done := ctxClass(ctx); done {
		return res.fail(c, ctx.Err())
	}
	fctx, cancel := context.WithTimeoutCause(ctx, f.cfg.Timeout, errFetchTimeout)
	defer cancel()
	gctx, guard := withWireGuard(fctx, cancel)
	hreq, err := http.NewRequestWithContext(gctx, http.MethodGet, raw, nil)
	if err != nil {
		return res.fail(errclass.InvalidURL, err)
	}
	hreq.Header["User-Agent"] = f.uaHeader
	hreq.Header["Accept"] = acceptHeader
	conditional := req.IfNoneMatch != "" || req.IfModifiedSince != ""
	if req.IfNoneMatch != "" {
		hreq.Header["If-None-Match"] = []string{req.IfNoneMatch}
	}
	if req.IfModifiedSince != "" {
		hreq.Header["If-Modified-Since"] = []string{req.IfModifiedSince}
	}

	client := f.client
	if !req.FollowRedirects {
		client = f.noFollowClient
	}
	RequestStarting(ctx)
	start := time.Now()
	res.FetchedAt = start
	resp, err := client.Do(hreq)
	if err != nil {
		err = guard.fix(err)
		res.Duration = time.Since(start)
		if resp != nil { // CheckRedirect stopped us; body already closed
			res.Status = resp.StatusCode
			res.ContentType = resp.Header.Get("Content-Type")
			res.Redirects = redirectCount(resp)
		}
		var ce *classedError
		var ue *url.Error
		if errors.As(err, &ce) && ce.target != "" {
			res.FinalURL = ce.target
		} else if errors.Is(err, netguard.ErrBlocked) && errors.As(err, &ue) {
			res.FinalURL = ue.URL // the hop whose address was refused (not requested)
		}
		return res.fail(f.errClass(ctx, fctx, err), f.errDetail(fctx, err))
	}
	res.Status = resp.StatusCode
	res.FinalURL = resp.Request.URL.String()
	res.Redirects = redirectCount(resp)
	res.ContentType = resp.Header.Get("Content-Type")
	res.RequestHead, res.ResponseHead = f.requestHead(resp.Request), responseHead(resp)
	if !req.FollowRedirects && isRedirect(resp.StatusCode) && resp.Header.Get("Location") != "" {
		return f.redirectResult(ctx, fctx, res, resp)
	}
	class := errclass.ForStatus(resp.StatusCode)
	if resp.StatusCode == http.StatusNotModified && conditional {
		// The content is the one the validators describe: a success that
		// transferred no body.
		class, res.NotModified = errclass.OK, true
	}
	if class == errclass.OK {
		res.ETag, res.LastModified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		res.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}

	keep := class == errclass.OK && !res.NotModified
	body, truncated, rerr := f.readBody(resp.Body, resp.ContentLength, int64(f.cfg.BodyCap), keep)
	// Close without draining: if we stopped at the cap the Transport drops
	// the connection instead of reading an unbounded remainder.
	resp.Body.Close()
	res.Duration = time.Since(start)
	if rerr != nil {
		return res.fail(f.errClass(ctx, fctx, rerr), fmt.Errorf("read body: %w", f.errDetail(fctx, rerr)))
	}
	res.BodySize = int64(len(body.b))
	res.Truncated = truncated
	if !res.NotModified {
		res.ContentHash = sha256.Sum256(body.b)
	}
	if keep {
		res.Body = body.b
		if res.ContentType == "" && len(body.b) > 0 {
			res.ContentType = http.DetectContentType(body.b)
		}
		if tags := resp.Header["X-Robots-Tag"]; len(tags) > 0 {
			res.NoIndex, res.NoFollow = xRobotsTag(tags, f.agent)
		}
		if isHTMLType(res.ContentType) {
			if req.MaxLinks <= 0 {
				res.Title = ExtractTitle(body.b, res.ContentType)
			} else {
				pg := ParsePage(body.b, res.ContentType, PageOptions{URL: res.FinalURL, MaxLinks: req.MaxLinks,
					ProductToken: f.agent, NoFollow: res.NoFollow})
				res.Title, res.Links, res.LinksDropped, res.LinksTooLong = pg.Title, pg.Links, pg.LinksDropped, pg.LinksTooLong
				res.NoIndex = res.NoIndex || pg.NoIndex
				res.NoFollow = pg.NoFollow
			}
		}
	} else if !res.NotModified {
		res.Err = resp.Status
	}
	f.release(body)
	res.Class = class
	return res
}

// isRedirect reports whether status is one net/http follows.
func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// redirectSlurp is how much of a redirect's body is read so that its
// connection can carry the next request (net/http's client reads 2 KiB).
const redirectSlurp = 2 << 10

// redirectResult makes the result of a redirect not followed: class OK,
// its status, no body, its Location resolved against the URL requested as
// one LinkRedirect link. A Location that cannot be a link (another
// scheme, userinfo, unparsable, longer than MaxLinkLength) is
// errclass.InvalidURL with FinalURL set to it, as when following.
func (f *httpFetcher) redirectResult(ctx, fctx context.Context, res *Result, resp *http.Response) *Result {
	_, _ = io.CopyN(io.Discard, resp.Body, redirectSlurp)
	resp.Body.Close()
	res.Duration = time.Since(res.FetchedAt)
	loc := resp.Header.Get("Location")
	target, ok := resolveLink(resp.Request.URL, loc)
	if !ok {
		res.FinalURL = loc
		return res.fail(errclass.InvalidURL, fmt.Errorf("redirect to %.200q: not an http(s) URL of at most %d bytes", loc, MaxLinkLength))
	}
	res.Links = []Link{{URL: target, Kind: LinkRedirect}}
	res.Class = errclass.OK
	return res
}

// errClass refines Classify with the contexts: the caller giving up is
// errclass.Canceled whatever the error says; our own deadline is errclass.Timeout.
func (f *httpFetcher) errClass(caller, fetch context.Context, err error) errclass.Class {
	if c, done := ctxClass(caller); done {
		return c
	}
	if fetch.Err() != nil && errors.Is(context.Cause(fetch), errFetchTimeout) {
		return errclass.Timeout
	}
	return Classify(err)
}

func (f *httpFetcher) errDetail(fetch context.Context, err error) error {
	if fetch.Err() != nil && errors.Is(context.Cause(fetch), errFetchTimeout) {
		return fmt.Errorf("%w (%v): %w", errFetchTimeout, f.cfg.Timeout, err)
	}
	return err
}

// checkRedirect is the page client's redirect policy: at most MaxRedirects
// hops, http(s) only, and every target vetted by checkHop (robots.txt)
// before it is requested.
func (f *httpFetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	target := req.URL.String()
	if len(via) > f.cfg.MaxRedirects {
		return &classedError{class: errclass.TooManyRedirects, target: target,
			err: fmt.Errorf("%w: more than %d", errTooManyRedirect, f.cfg.MaxRedirects)}
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return &classedError{class: errclass.InvalidURL, target: target,
			err: fmt.Errorf("redirect to unsupported scheme %q", s)}
	}
	if req.URL.Hostname() == "" || req.URL.User != nil {
		return &classedError{class: errclass.InvalidURL, target: urlnorm.Redact(target),
			err: errors.New("redirect to url without host or with userinfo")}
	}
	if f.checkHop != nil {
		return f.checkHop(req.Context(), req.URL)
	}
	return nil
}

func checkRobotsRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRobotsRedirects {
		return &classedError{class: errclass.TooManyRedirects, target: req.URL.String(),
			err: fmt.Errorf("%w: more than %d", errTooManyRedirect, maxRobotsRedirects)}
	}
	return nil
}

// redirectCount counts the hops that led to resp via Request.Response,
// which net/http fills in only for redirects.
func redirectCount(resp *http.Response) int {
	n := 0
	for r := resp.Request; r != nil && r.Response != nil; r = r.Response.Request {
		n++
	}
	return n
}

// getRobots fetches a robots.txt URL with redirects, returning the final
// status, its Retry-After, and at most limit body bytes. The body slice is
// owned by the caller only until it calls release.
func (f *httpFetcher) getRobots(ctx context.Context, robotsURL string, limit int64) (int, time.Duration, buf, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctx, guard := withWireGuard(ctx, cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, robotsURL, nil)
	if err != nil {
		return 0, 0, buf{}, err
	}
	req.Header["User-Agent"] = f.uaHeader
	req.Header["Accept"] = []string{"text/plain,*/*;q=0.8"}
	resp, err := f.robotsClient.Do(req)
	if err != nil {
		return 0, 0, buf{}, guard.fix(err)
	}
	defer resp.Body.Close()
	ra := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	// robots.txt beyond the cap is ignored (RFC 9309 2.5), not an error.
	b, _, err := f.readBody(resp.Body, resp.ContentLength, limit, false)
	if err != nil {
		return resp.StatusCode, ra, buf{}, err
	}
	return resp.StatusCode, ra, b, nil
}

// getSitemap requests a sitemap URL and hands a 2xx body to read, which
// must not keep it. It returns the final status and Retry-After; read is
// not called for other statuses. The request is bounded by cfg.Timeout.
func (f *httpFetcher) getSitemap(ctx context.Context, sitemapURL string, read func(io.Reader) error) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, f.cfg.Timeout, errFetchTimeout)
	defer cancel()
	ctx, guard := withWireGuard(ctx, cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sitemapURL, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header["User-Agent"] = f.uaHeader
	req.Header["Accept"] = sitemapAccept
	resp, err := f.sitemapClient.Do(req)
	if err != nil {
		return 0, 0, guard.fix(err)
	}
	defer resp.Body.Close()
	ra := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.CopyN(io.Discard, resp.Body, redirectSlurp)
		return resp.StatusCode, ra, nil
	}
	return resp.StatusCode, ra, read(resp.Body)
}

var sitemapAccept = []string{"application/xml,text/xml;q=0.9,*/*;q=0.8"}

// buf is a body read buffer; pooled when p != nil.
type buf struct {
	b []byte
	p *[]byte
}

// chunkSize is the size of pooled read chunks. Most pages fit in one; a
// longer body is read chunk by chunk and assembled once, so a 1 MiB body
// costs one exact allocation instead of a doubling series of copies.
const chunkSize = 32 << 10

// getChunk returns a pooled chunkSize buffer, empty.
func (f *httpFetcher) getChunk() *[]byte {
	if p, _ := f.bufPool.Get().(*[]byte); p != nil {
		*p = (*p)[:0]
		return p
	}
	b := make([]byte, 0, chunkSize)
	return &b
}

// readBody reads at most limit+1 bytes so a longer body is detected without
// reading it. With keep the returned bytes are exactly sized and owned by
// the caller (no pool); otherwise they may come from the pool and must be
// handed back with release. A known Content-Length within the cap is read
// into an exact allocation: no chunks, no copy.
func (f *httpFetcher) readBody(r io.Reader, contentLength, limit int64, keep bool) (buf, bool, error) {
	if keep && contentLength >= 0 && contentLength <= limit {
		b, err := readLimited(r, make([]byte, 0, contentLength+1), limit+1)
		truncated := int64(len(b)) > limit
		if truncated {
			b = b[:limit]
		}
		if err != nil {
			return buf{}, truncated, err
		}
		return buf{b: b}, truncated, nil
	}
	var chunks []*[]byte
	defer func() {
		for _, c := range chunks {
			f.bufPool.Put(c)
		}
	}()
	n, want := int64(0), limit+1
	var err error
	for n < want {
		c := f.getChunk()
		chunks = append(chunks, c)
		room := int(min(int64(cap(*c)), want-n))
		// Not io.ReadFull: it reports a body ending inside a chunk as
		// io.ErrUnexpectedEOF, the same error net/http gives for a
		// transfer cut off before its Content-Length or last chunk. Only
		// io.EOF is the body's end; a cut-off transfer stays an error.
		for len(*c) < room && err == nil {
			var m int
			m, err = r.Read((*c)[len(*c):room])
			*c = (*c)[:len(*c)+m]
			n += int64(m)
		}
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			break
		}
	}
	if err != nil {
		return buf{}, n > limit, err
	}
	truncated := n > limit
	n = min(n, limit)
	if !keep && len(chunks) == 1 {
		// The common case: the body fits one chunk; lend it out.
		c := chunks[0]
		chunks = nil
		return buf{b: (*c)[:n], p: c}, truncated, nil
	}
	out := make([]byte, 0, n)
	for _, c := range chunks {
		out = append(out, (*c)[:min(int64(len(*c)), n-int64(len(out)))]...)
	}
	return buf{b: out}, truncated, nil
}

func (f *httpFetcher) release(b buf) {
	if b.p != nil {
		f.bufPool.Put(b.p)
	}
}

// readLimited appends up to n bytes from r to b, like io.ReadAll but
// starting from b's capacity. io.EOF is not an error.
func readLimited(r io.Reader, b []byte, n int64) ([]byte, error) {
	lr := io.LimitedReader{R: r, N: n}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err != nil {
			if err == io.EOF {
				return b, nil
			}
			return b, err
		}
	}
}

// isHTMLType reports whether a Content-Type is text/html or
// application/xhtml+xml, ignoring parameters and case.
func isHTMLType(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	return strings.EqualFold(ct, "text/html") || strings.EqualFold(ct, "application/xhtml+xml")
}

// ParseRetryAfter parses a Retry-After value (RFC 9110 10.2.3): either
// delta-seconds or an HTTP-date, relative to now. Invalid, empty or past
// values give 0; values are capped at MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return MaxRetryAfter
			}
			return 0
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	switch {
	case d <= 0:
		return 0
	case d > MaxRetryAfter:
		return MaxRetryAfter
	}
	// HTTP-dates have one-second resolution; round so a header computed as
	// "now + 120s" reads as 120s, not 119.6s.
	return d.Round(time.Second)
}

// closeIdle closes idle keep-alive connections (for shutdown).
func (f *httpFetcher) closeIdle() { f.transport.CloseIdleConnections() }
