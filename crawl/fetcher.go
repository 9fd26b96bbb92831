package crawl

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
	"github.com/crawlmaster/crawlmaster/crawl/urlnorm"
)

// Request is one fetch: a URL and what the caller wants beyond the page.
// The zero value of every field but URL is the plainest fetch: redirects
// not followed, no links, no sitemaps; a crawl of the URLs given (the
// master's default crawl) sets FollowRedirects.
type Request struct {
	// URL is an absolute http(s) URL without userinfo.
	URL string
	// FollowRedirects follows redirects inside the fetch (up to
	// MaxRedirects, each hop checked against robots.txt). When false, a
	// 301, 302, 303, 307 or 308 answer with a Location is the result:
	// class errclass.OK, its status, no body, and its target as one
	// LinkRedirect link (not checked against robots.txt here: it is
	// crawled as a URL of its own).
	FollowRedirects bool
	// MaxLinks is the most outlinks returned from an HTML 2xx page (see
	// ParsePage); 0 extracts none and keeps the title-only pass.
	MaxLinks int
	// Sitemaps also reads the host's sitemaps after the page (the
	// Sitemap lines of its robots.txt on this host, else /sitemap.xml) and
	// returns their URLs as LinkSitemap links, counted apart from
	// MaxLinks (see the package documentation for the caps).
	Sitemaps bool
	// MaxWait, when > 0, is the longest Fetch waits for the host's
	// politeness slot before the page request. A page whose host would
	// make it wait longer is not requested: the Result says Deferred, with
	// NextRequestAfter the wait left, so a caller with other work goes on
	// instead of sleeping. robots.txt is still checked (and fetched when
	// not cached) first. 0 waits as long as the host needs.
	MaxWait time.Duration
	// IfNoneMatch and IfModifiedSince are the validators of the URL's
	// last successful fetch (its ETag and Last-Modified), sent as a
	// conditional request on the page (never on robots.txt or sitemaps).
	// A 304 answer is then class errclass.OK with NotModified set and no
	// body. Empty: an unconditional GET.
	IfNoneMatch, IfModifiedSince string
}

// Fetcher fetches one URL. Implementations are safe for concurrent use,
// never panic and never return nil: every failure is a Result with a Class.
// Fetch blocks until the fetch is done, including waits for robots.txt and
// politeness; cancelling ctx ends it early with errclass.Canceled.
type Fetcher interface {
	Fetch(ctx context.Context, req Request) *Result
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, req Request) *Result

// Fetch calls f.
func (f FetcherFunc) Fetch(ctx context.Context, req Request) *Result { return f(ctx, req) }

// RobotsDecision records what robots.txt said about a fetch.
type RobotsDecision int

// Robots decisions. RobotsUnknown means robots.txt was not consulted (for
// example an invalid URL, or a fetcher stack without the robots layer).
const (
	RobotsUnknown RobotsDecision = iota
	RobotsAllowed
	RobotsDisallowed
	RobotsUnavailable
)

// String returns "unknown", "allowed", "disallowed" or "unavailable".
func (d RobotsDecision) String() string {
	switch d {
	case RobotsAllowed:
		return "allowed"
	case RobotsDisallowed:
		return "disallowed"
	case RobotsUnavailable:
		return "unavailable"
	}
	return "unknown"
}

// Result is the outcome of one Fetch.
type Result struct {
	URL         string // as passed to Fetch
	FinalURL    string // last URL requested; for a stopped redirect, the target not requested
	Status      int    // final HTTP status, 0 if no response
	ContentType string // Content-Type header (sniffed when the server sent none)
	BodySize    int64  // bytes read (<= BodyCap)
	Truncated   bool   // the body was longer than BodyCap
	// Duration is the time of the page request: from sending it until the
	// body was read, redirects included. It excludes the robots.txt check of
	// the first URL and the politeness wait (see Waited). 0 if no request.
	Duration time.Duration
	// Title is the first <title> of an HTML 2xx page, decoded to UTF-8,
	// whitespace-collapsed, trimmed, capped at 512 bytes.
	Title       string
	ContentHash [32]byte // sha256 of the capped body (zero if no body was read)
	Class       errclass.Class
	Err         string // detail, "" when ok
	Robots      RobotsDecision
	Redirects   int       // redirects followed
	FetchedAt   time.Time // when the page request started (or when the fetch ended without one)
	Body        []byte    // capped body, only for 2xx
	// RetryAfter is the parsed Retry-After header (delta-seconds or
	// HTTP-date, capped at MaxRetryAfter) of a 429 or 503 answer; for a
	// NotRequested result, when the remembered verdict expires.
	RetryAfter time.Duration
	// NotRequested: the fetch sent no request at all; a robots.txt failure
	// remembered from an earlier fetch (RobotsErrorTTL) decided it. Such a
	// result says nothing new about the URL, and a caller that counts
	// attempts should not count it.
	NotRequested bool
	// SitemapsRead: Request.Sitemaps asked for the host's sitemaps and they
	// were read (whether or not they listed any URL); false when the
	// page's outcome skipped them or the fetch was cancelled.
	SitemapsRead bool
	// Waited is the time spent in the politeness wait before the request.
	Waited time.Duration

	// Links are the page's outlinks (HTML 2xx, Request.MaxLinks > 0), in
	// document order, then the sitemap URLs (Request.Sitemaps); or the
	// one LinkRedirect target of a redirect not followed.
	Links []Link
	// LinksDropped counts links left out: beyond MaxLinks or MaxLinkBytes,
	// and sitemap URLs beyond the sitemap caps (a lower bound there: files
	// not read are not counted).
	LinksDropped int
	// LinksTooLong counts links longer than MaxLinkLength, skipped (for
	// metrics; not sent to the master).
	LinksTooLong int
	// NoIndex: the page asked not to be indexed (X-Robots-Tag, or meta
	// robots when links are extracted). It was fetched as usual.
	NoIndex bool
	// NoFollow: the page asked that its links not be followed; Links holds
	// no page link then.
	NoFollow bool
	// NextRequestAfter is how long, at the end of this fetch, the
	// politeness layer would make the next request to the URL's host wait
	// (its delay, Crawl-delay, 429/503 backoff); 0 when it would go at once.
	NextRequestAfter time.Duration
	// Deferred: the page was not requested because its host's politeness
	// wait, NextRequestAfter, was longer than Request.MaxWait. Class is
	// errclass.Canceled (nothing is known of the URL); fetch it again once
	// NextRequestAfter has passed.
	Deferred bool

	// NotModified: the server answered 304 Not Modified to a conditional
	// request (Request.IfNoneMatch or IfModifiedSince); no body was
	// transferred, and the content is the one those validators describe.
	NotModified bool
	// ETag and LastModified are the validators of a 2xx or 304 answer, to
	// send with the next fetch of the URL; empty when the server sent none.
	ETag, LastModified string
	// RequestHead is the page request as sent (the last hop when redirects
	// were followed) and ResponseHead the status line and headers of its
	// answer, both in HTTP/1.1 wire form ending in an empty line; nil when
	// no response was received. ResponseHead keeps at most
	// MaxStoredHeaders header lines of at most MaxStoredHeaderBytes in all
	// (the first ones by name order); see heads.go.
	RequestHead, ResponseHead []byte
}

// newResult starts a Result for url with FetchedAt set.
func newResult(url string) *Result {
	return &Result{URL: url, FinalURL: url, FetchedAt: time.Now()}
}

// fail sets the class and detail of r from err and returns r.
func (r *Result) fail(class errclass.Class, err error) *Result {
	r.Class = class
	if err != nil {
		r.Err = urlnorm.Redact(err.Error()) // net/http's errors quote the URL
	}
	return r
}

// ctxClass is the class of a fetch that ended because ctx is done: the
// caller's cancellation and the caller's own deadline are both "not an
// outcome" (errclass.Canceled), so the caller requeues.
func ctxClass(ctx context.Context) (errclass.Class, bool) {
	if ctx.Err() != nil {
		return errclass.Canceled, true
	}
	return "", false
}

// Deps are the optional collaborators of New.
type Deps struct {
	// Log receives the resolver-override warning and recovered panics;
	// nil discards them.
	Log *slog.Logger
	// Metrics records fetches; nil records nothing.
	Metrics *Metrics
	// Clock is the time source for robots cache TTLs and politeness waits;
	// nil means the system clock. Tests inject a fake one. Measurements
	// (Result.Duration, Result.FetchedAt) always use the system clock.
	Clock Clock
}

// New builds the full fetch stack, outermost first:
//
//	safe (recover) -> metrics -> robots -> politeness -> HTTP
//
// It returns an error if cfg is invalid (see fetchconfig.Config.Validate).
// New does no I/O. The returned Fetcher also has a CloseIdleConnections()
// method for shutdown. When cfg.Resolve is set it logs a warning, because a
// forgotten override silently closes the world.
func New(cfg fetchconfig.Config, d Deps) (Fetcher, error) { return newStack(cfg, d, nil) }

// newStack is New; afterGuard (tests only) sees every address the
// SSRF guard lets through, before connecting, and may refuse it.
func newStack(cfg fetchconfig.Config, d Deps, afterGuard func(network, address string) error) (Fetcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("crawl: invalid configuration: %w", err)
	}
	logger, clock := d.Log, d.Clock
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = SystemClock{}
	}
	h := newHTTPFetcher(cfg, logger, afterGuard)
	p := newPoliteness(cfg, clock, h)
	r := newRobots(cfg, clock, logger, d.Metrics, h, p)
	h.checkHop = r.checkHop
	h.sitemapHop = r.checkSitemapHop
	var f Fetcher = r
	if d.Metrics != nil {
		f = &metricsFetcher{m: d.Metrics, next: f}
	}
	return &safeFetcher{next: f, logger: logger, closeIdle: h.closeIdle}, nil
}

// safeFetcher turns a panic anywhere below into an errclass.Other Result, so one
// bad page can never take down a daemon running hundreds of fetches.
type safeFetcher struct {
	next      Fetcher
	logger    *slog.Logger
	closeIdle func()
}

// CloseIdleConnections closes idle keep-alive connections; call it at
// shutdown. The Fetcher returned by New has this method (assert to
// interface{ CloseIdleConnections() }).
func (s *safeFetcher) CloseIdleConnections() { s.closeIdle() }

func (s *safeFetcher) Fetch(ctx context.Context, req Request) (res *Result) {
	defer func() {
		if p := recover(); p != nil {
			s.logger.Error("crawl: panic in fetch", "url", urlnorm.Redact(req.URL), "panic", p, "stack", string(debug.Stack()))
			res = newResult(req.URL).fail(errclass.Other, fmt.Errorf("internal error: panic: %v", p))
		}
	}()
	res = s.next.Fetch(ctx, req)
	if res == nil {
		res = newResult(req.URL).fail(errclass.Other, fmt.Errorf("internal error: nil result"))
	}
	return res
}
