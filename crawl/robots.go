package crawl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/temoto/robotstxt"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
)

// robotsFetcher is the robots.txt decorator. It consults (and fills) a
// bounded LRU of per-origin verdicts, lets only allowed URLs through to
// next, passes the Crawl-delay down in the context, and vets redirect hops
// through checkHop, which the HTTP fetcher calls from CheckRedirect.
type robotsFetcher struct {
	cfg    fetchconfig.Config
	logger *slog.Logger
	m      *Metrics
	h      *httpFetcher // robots.txt requests share the page transport (keep-alive)
	p      *politeness  // every request to a host books its slot there
	next   Fetcher
	agent  string // lowercase product token
	cache  *robotsCache
	clock  Clock

	mu      sync.Mutex
	flights map[string]*robotsFlight // origin key -> robots.txt fetch in progress
}

// robotsFlight is one robots.txt fetch in progress for an origin, run by
// its leader (the lookup that registered it). Before closing done the leader
// sets e to the verdict, or leaves it nil when it gave up (its ctx ended).
type robotsFlight struct {
	done chan struct{}
	e    *robotsEntry
}

func newRobots(cfg fetchconfig.Config, clock Clock, logger *slog.Logger, m *Metrics, h *httpFetcher, p *politeness) *robotsFetcher {
	return &robotsFetcher{
		cfg:     cfg,
		logger:  logger,
		m:       m,
		h:       h,
		p:       p,
		next:    p,
		agent:   fetchconfig.ProductToken(cfg.UserAgent),
		cache:   newRobotsCache(cfg.RobotsCacheSize),
		clock:   clock,
		flights: make(map[string]*robotsFlight),
	}
}

// originKey is the robots.txt scope of u (RFC 9309 2.3: scheme, host and
// port).
func originKey(u *url.URL) string {
	return u.Scheme + "://" + hostKey(u)
}

// hostKey is u's host[:port], lowercased, without the scheme's default
// port, so http://a, http://a:80 and https://a share a key.
func hostKey(u *url.URL) string {
	host := strings.ToLower(u.Host)
	if p := u.Port(); (p == "80" && u.Scheme == "http") || (p == "443" && u.Scheme == "https") {
		host = host[:len(host)-len(p)-1]
	}
	return host
}

// Fetch checks robots.txt for the URL, then (if allowed) calls next, then
// reads the host's sitemaps when asked, and reports how long the host's
// next request would wait. It blocks while robots.txt is fetched (shared
// with concurrent callers for the same origin; see lookup) unless ctx
// ends first.
func (r *robotsFetcher) Fetch(ctx context.Context, req Request) *Result {
	u, err := parseFetchURL(req.URL)
	if err != nil {
		return newResult(req.URL).fail(errclass.InvalidURL, err)
	}
	res, e := r.fetchPage(ctx, req, u)
	if req.Sitemaps && e != nil && sitemapsAfter(res.Class) && ctx.Err() == nil {
		if err := r.readSitemaps(ctx, u, e, res); err != nil {
			// The caller gave up: the fetch says nothing, sitemaps included.
			res = newResult(req.URL).fail(errclass.Canceled, fmt.Errorf("reading sitemaps: %w", err))
		} else {
			res.SitemapsRead = true
		}
	}
	res.NextRequestAfter = r.p.after(hostKey(u))
	return res
}

// fetchPage is the robots check and the page fetch. It returns the
// origin's verdict when it had one to give.
func (r *robotsFetcher) fetchPage(ctx context.Context, req Request, u *url.URL) (*Result, *robotsEntry) {
	start := r.clock.Now()
	e, err := r.lookup(ctx, u)
	if err != nil {
		res := newResult(req.URL)
		res.Robots = RobotsUnknown
		return res.fail(errclass.Canceled, fmt.Errorf("waiting for robots.txt: %w", err)), nil
	}
	if e.class != errclass.OK {
		res := newResult(req.URL)
		res.Robots = RobotsUnavailable
		if e.fetched.Before(start) {
			// An earlier fetch's failure, remembered for RobotsErrorTTL:
			// this fetch sent nothing. Say so, and when the verdict
			// expires, so the caller retries then without counting this
			// as an attempt.
			res.NotRequested = true
			res.RetryAfter = max(0, e.expires.Sub(r.clock.Now()))
		}
		return res.fail(e.class, errors.New(e.err)), nil
	}
	if !e.allowed(u.RequestURI()) {
		res := newResult(req.URL)
		res.Robots = RobotsDisallowed
		return res.fail(errclass.RobotsDisallowed, fmt.Errorf("disallowed by %s/robots.txt", e.key)), e
	}
	res := r.next.Fetch(withCrawlDelay(ctx, e.delay), req)
	switch res.Class {
	case errclass.RobotsDisallowed: // a redirect hop
		res.Robots = RobotsDisallowed
	case errclass.RobotsUnavailable:
		res.Robots = RobotsUnavailable
	default:
		res.Robots = RobotsAllowed
	}
	return res, e
}

// checkHop vets a redirect target before the HTTP client requests it. The
// error is a *classedError so the class and target survive net/http's
// wrapping; a context error is returned as is.
func (r *robotsFetcher) checkHop(ctx context.Context, target *url.URL) error {
	e, err := r.lookupDetached(ctx, target)
	if err != nil {
		return err
	}
	if e.class != errclass.OK {
		return &classedError{class: e.class, target: target.String(),
			err: fmt.Errorf("redirect target: %s", e.err)}
	}
	if !e.allowed(target.RequestURI()) {
		return &classedError{class: errclass.RobotsDisallowed, target: target.String(),
			err: fmt.Errorf("redirect target disallowed by %s/robots.txt", e.key)}
	}
	// The hop is requested at once (a redirect is one fetch), but it
	// counts: the host's next request waits its delay from now.
	r.p.note(hostKey(target), r.p.effectiveDelay(e.delay))
	return nil
}

// lookupDetached is lookup for a redirect hop. Its ctx is the page
// request's, whose deadline may come before RobotsTimeout: leading the
// flight under it would end the fetch unfinished and uncached, and every
// later redirect to that origin would fetch its robots.txt again. So on a
// miss the flight runs on a goroutine of its own, detached from ctx (still
// bounded by RobotsTimeout), and the caller only stops waiting when ctx
// ends. Hops to an origin without a cached verdict are rare next to page
// fetches, so the goroutine costs little.
func (r *robotsFetcher) lookupDetached(ctx context.Context, u *url.URL) (*robotsEntry, error) {
	if e := r.cache.get(originKey(u), r.clock.Now()); e != nil {
		r.m.robotsCacheHit()
		return e, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch := make(chan *robotsEntry, 1)
	go func() {
		// A fresh context: the request's carries its fetch's wire guard
		// (replay.go), which must not see robots.txt's connection.
		e, _ := r.lookup(context.Background(), u) // no error without a cancel
		ch <- e
	}()
	select {
	case e := <-ch:
		return e, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// lookup returns the verdict for u's origin from the cache or, on a miss,
// from a robots.txt fetch shared by every concurrent caller for that origin.
// The only error is ctx's, when the caller stops waiting.
//
// The first caller to miss becomes the flight's leader and runs the fetch
// inline, in its own goroutine and with its own ctx; later callers wait for
// the flight's done channel. No goroutine is started per fetch (as
// singleflight.DoChan would, i.e. one per crawled origin): a fresh
// goroutine grows its stack again under the net/http client calls, while
// the leader's is already grown (BENCHMARKS.md, item 12).
//
// One impatient caller must not fail the fetch for the others: a waiter
// whose ctx ends just stops waiting, and a leader whose ctx ends during the
// fetch neither caches nor shares what it got (a cancelled request is not a
// verdict); the flight ends empty and its waiters retry, one of them leading
// a new fetch. So at most one robots.txt request per origin is in flight,
// each bounded by RobotsTimeout (fetch applies it), but a waiter may wait
// through more than one of them.
//
// Callers' contexts: Fetch passes its caller's ctx (the assistant's batch
// stream: cancellable, no deadline); checkHop goes through lookupDetached,
// because the page request's deadline may come before RobotsTimeout. A
// leader's DeadlineExceeded would count as the leader giving up, like a
// cancel: the fetch is not cached and waiters retry. Only RobotsTimeout (a
// deadline of fetch's own) turns into a timeout verdict.
func (r *robotsFetcher) lookup(ctx context.Context, u *url.URL) (*robotsEntry, error) {
	key := originKey(u)
	if e := r.cache.get(key, r.clock.Now()); e != nil {
		r.m.robotsCacheHit()
		return e, nil
	}
	r.m.robotsCacheMiss()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.mu.Lock()
		fl := r.flights[key]
		if fl == nil {
			fl = &robotsFlight{done: make(chan struct{})}
			r.flights[key] = fl
			r.mu.Unlock()
			return r.lead(ctx, u, key, fl)
		}
		r.mu.Unlock()
		select {
		case <-fl.done:
			if fl.e != nil {
				return fl.e, nil
			}
			// The leader gave up; try again (most likely as the new leader).
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// lead runs flight fl for key in the caller's goroutine. Whatever happens
// (even a panic) fl is removed and done closed, so no waiter hangs; fl.e is
// set only to a verdict that was cached.
func (r *robotsFetcher) lead(ctx context.Context, u *url.URL, key string, fl *robotsFlight) (*robotsEntry, error) {
	var shared *robotsEntry
	defer func() {
		r.mu.Lock()
		fl.e = shared // before close(done): waiters read it after <-done
		delete(r.flights, key)
		close(fl.done)
		r.mu.Unlock()
	}()
	// A flight that ended just before ours may have filled the cache.
	if e := r.cache.get(key, r.clock.Now()); e != nil {
		shared = e
		return e, nil
	}
	e := r.fetch(ctx, u, key)
	if err := ctx.Err(); err != nil {
		return nil, err // gave up: not a verdict, waiters retry
	}
	r.cache.put(e)
	shared = e
	return e, nil
}

// hostLevel classes say the origin itself cannot be reached; they are
// passed through as the page's class (a dead host is dns_not_found, a
// permanent class, not a forever-retried robots_unavailable). Everything
// else that prevents reading robots.txt is robots_unavailable.
func hostLevel(c errclass.Class) bool {
	switch c {
	case errclass.DNSNotFound, errclass.DNSTemporary, errclass.ConnRefused, errclass.TLS, errclass.InvalidURL,
		errclass.BlockedAddress:
		return true
	}
	return false
}

// fetch requests key/robots.txt and turns the answer into a cache entry.
// It never panics: it runs in the lookup leader's goroutine, which is some
// page fetch's, so a bad robots.txt must not become that page's panic (and
// a failed fetch still yields an entry to cache and share); the parse is
// guarded. ctx is the leader's; fetch adds RobotsTimeout to it, after the
// request has waited for the host's politeness slot like any other.
func (r *robotsFetcher) fetch(ctx context.Context, u *url.URL, key string) (e *robotsEntry) {
	start := time.Now()
	e = &robotsEntry{key: key, class: errclass.OK}
	defer func() {
		if p := recover(); p != nil {
			e = &robotsEntry{key: key, class: errclass.RobotsUnavailable,
				err: fmt.Sprintf("robots %s: internal error: %v", key, p)}
			r.logger.Error("crawl: panic in robots.txt handling", "origin", key, "panic", p)
			r.m.robotsFetch("error")
		}
		ttl := r.cfg.RobotsTTL
		if e.class != errclass.OK {
			ttl = r.cfg.RobotsErrorTTL
		}
		e.fetched = r.clock.Now()
		e.expires = e.fetched.Add(ttl)
	}()

	host := hostKey(u)
	delay := r.p.effectiveDelay(0) // the Crawl-delay is in the file
	if _, err := r.p.wait(ctx, host, delay, 0); err != nil {
		e.class, e.err = errclass.Canceled, err.Error()
		return e // ctx is done: lead neither caches nor shares it
	}
	var wrote atomic.Int64 // when the request reached the wire (onwire.go)
	wrote.Store(r.clock.Now().UnixNano())
	ctx, cancel := context.WithTimeoutCause(r.p.fromWire(ctx, host, delay, &wrote), r.cfg.RobotsTimeout, errRobotsTimeout)
	defer cancel()
	status, retryAfter, body, err := r.h.getRobots(ctx, key+"/robots.txt", int64(r.cfg.RobotsCap))
	defer r.h.release(body)
	if err == nil {
		r.p.answered(host, status, retryAfter, delay)
	}
	if err != nil {
		class := Classify(err)
		if ctx.Err() != nil && errors.Is(context.Cause(ctx), errRobotsTimeout) {
			class = errclass.Timeout
			err = fmt.Errorf("%w (%v): %w", errRobotsTimeout, r.cfg.RobotsTimeout, err)
		}
		switch {
		case class == errclass.TooManyRedirects:
			// Google: robots.txt not reached within the redirect limit is
			// treated as not found, i.e. allow all.
			r.m.robotsFetch("redirect_limit")
			r.logger.Debug("robots.txt redirect limit, allowing all", "origin", key)
			return e
		case hostLevel(class):
			e.class = class
		default:
			e.class = errclass.RobotsUnavailable
		}
		e.err = fmt.Sprintf("robots %s: %v", key, err)
		r.m.robotsFetch("error")
		r.logger.Debug("robots.txt unavailable", "origin", key, "class", class, "err", err)
		return e
	}
	switch {
	case status >= 200 && status < 300:
		e.group, e.delay, e.sitemaps = parseRobots(body.b, r.agent)
		r.m.robotsFetch("2xx")
		// Now that the Crawl-delay is known, the request just sent counts
		// with it: the page waits it from robots.txt.
		r.p.extend(host, time.Unix(0, wrote.Load()).Add(r.p.effectiveDelay(e.delay)))
	case status == 429 || status >= 500:
		// 429 is a request to back off: treated like 5xx (Google does the
		// same) rather than as "no robots.txt, crawl everything".
		e.class = errclass.RobotsUnavailable
		e.err = fmt.Sprintf("robots %s: status %d", key, status)
		r.m.robotsFetch("5xx")
	case status >= 400:
		r.m.robotsFetch("4xx") // RFC 9309 2.3.1.3: unavailable -> allow all
	default:
		r.m.robotsFetch("other") // 1xx, or 3xx without Location: nothing to obey
	}
	r.logger.Debug("robots.txt fetched", "origin", key, "status", status,
		"class", e.class, "took", time.Since(start))
	return e
}

// parseRobots returns the rule group that applies to agent (never nil; an
// empty group allows everything), its Crawl-delay and the file's Sitemap
// URLs (at most MaxSitemapFiles, each at most MaxLinkLength bytes). robotstxt rejects a
// whole file for a single bad line (rules before any User-agent, an
// unparsable Crawl-delay); crawlers are expected to ignore such lines
// (RFC 9309 2.2), so on a parse error the offending lines are dropped and
// the rest parsed again: first cheaply by line key, then, if that is not
// enough, by probing every line. A file that still fails allows all.
func parseRobots(body []byte, agent string) (*robotstxt.Group, time.Duration, []string) {
	data, err := robotstxt.FromBytes(body)
	if err != nil {
		data, err = robotstxt.FromBytes(sanitizeRobots(body, false))
	}
	if err != nil {
		data, err = robotstxt.FromBytes(sanitizeRobots(body, true))
	}
	if err != nil {
		return emptyGroup, 0, nil
	}
	g := data.FindGroup(agent) // never nil: an empty group when none applies
	var sitemaps []string
	for _, s := range data.Sitemaps {
		if len(sitemaps) == MaxSitemapFiles {
			break
		}
		if s = strings.TrimSpace(s); s != "" && len(s) <= MaxLinkLength {
			sitemaps = append(sitemaps, s)
		}
	}
	return g, g.CrawlDelay, sitemaps
}

// emptyGroup allows everything.
var emptyGroup = &robotstxt.Group{}

var bom = []byte("\xef\xbb\xbf")

// sanitizeRobots drops the lines that make robotstxt reject a file. The
// cheap pass (probeAll false) drops group members (Allow, Disallow,
// Crawl-delay) before any User-agent line and probes only Crawl-delay
// lines. The thorough pass probes every line in its context (after a
// synthetic User-agent line once a kept line started a group), which also
// catches several directives on one line. A line that parses in its probe
// cannot fail in the output: robotstxt pairs tokens line by line, and a
// group is open in the output whenever it is open in the probe.
func sanitizeRobots(body []byte, probeAll bool) []byte {
	body = bytes.TrimPrefix(body, bom)
	out := make([]byte, 0, len(body)+1)
	seenUA := false
	var probe []byte
	ok := func(line []byte) bool {
		probe = probe[:0]
		if seenUA {
			probe = append(probe, "user-agent: x\n"...)
		}
		probe = append(probe, line...)
		// Followed by more content as in the output, so a value-less key or a
		// trailing comment yields the EOL token the real parse will see.
		probe = append(probe, "\nx-probe: 1\n"...)
		_, err := robotstxt.FromBytes(probe)
		return err == nil
	}
	for len(body) > 0 {
		i := bytes.IndexAny(body, "\r\n")
		var line []byte
		if i < 0 {
			line, body = body, nil
		} else {
			line, body = body[:i], body[i+1:]
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		key := robotsLineKey(line)
		switch {
		case probeAll:
			if !ok(line) {
				continue
			}
		case key == "allow" || key == "disallow":
			// Rules only fail outside a group: their patterns are quoted
			// before compiling, so they always compile.
			if !seenUA {
				continue
			}
		case key == "crawl-delay" || key == "crawldelay":
			if !seenUA || !ok(line) {
				continue
			}
		}
		if key == "user-agent" || key == "useragent" {
			seenUA = true
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out
}

// robotsLineKey is the lowercased first token of a robots.txt line, split
// like robotstxt's scanner does (at ':' or blank).
func robotsLineKey(line []byte) string {
	line = bytes.TrimLeft(line, " \t\v")
	end := bytes.IndexAny(line, ": \t\v")
	if end < 0 {
		end = len(line)
	}
	return strings.ToLower(string(line[:end]))
}

// crawlDelayKey carries the origin's Crawl-delay from the robots layer to
// the politeness layer below it.
type crawlDelayKey struct{}

func withCrawlDelay(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	return context.WithValue(ctx, crawlDelayKey{}, d)
}

func crawlDelayFrom(ctx context.Context) time.Duration {
	d, _ := ctx.Value(crawlDelayKey{}).(time.Duration)
	return d
}
