package crawl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/sitemap"
	"github.com/crawlmaster/crawlmaster/crawl/urlnorm"
)

// Sitemap caps per fetch (per seed: Request.Sitemaps is set for seeds).
// The per-file caps (50,000 entries, 50 MB uncompressed) are package
// sitemap's.
const (
	// MaxSitemapURLs is the most sitemap URLs returned per fetch, over all
	// files: the protocol's per-file cap, so one full file is always read.
	MaxSitemapURLs = 50000
	// MaxSitemapFiles is the most sitemap files requested per fetch: with
	// a 1 s delay, about a minute of one slot. An index may list 50,000
	// files; past this many, the rest is not read.
	MaxSitemapFiles = 64
	// MaxSitemapDepth is how many levels of sitemap index are followed: a
	// file listed in robots.txt (level 0) may be an index of files (level
	// 1), which may be indexes of files (level 2); indexes found at level
	// 2 are not followed.
	MaxSitemapDepth = 2
	// MaxSitemapBytes bounds the bytes of sitemap URLs kept per fetch: 50,000
	// URLs of 160 bytes on average. With MaxLinkBytes and the body it
	// keeps a result under the master's 16 MiB message limit.
	MaxSitemapBytes = 8 << 20
)

// sitemapsAfter reports whether a page result leaves the host worth
// reading sitemaps from: it answered (or robots.txt kept us from asking).
// After a transient failure the master retries the seed, and the
// sitemaps are read then.
func sitemapsAfter(c errclass.Class) bool {
	return c == errclass.OK || c == errclass.HTTP4xx || c == errclass.RobotsDisallowed
}

// readSitemaps reads the sitemaps of page's host and appends their URLs
// to res as LinkSitemap links. The files are the Sitemap lines of the
// origin's robots.txt (e) that are on page's host, else /sitemap.xml.
// Each file must be on that host and allowed by robots.txt; each request
// waits for the host's politeness slot and its answer counts (a 429 or
// 503 stops the reading and backs the host off). Index files are followed
// breadth first to MaxSitemapDepth, at most MaxSitemapFiles files in all.
// Unreadable files are skipped. The only error is ctx's.
func (r *robotsFetcher) readSitemaps(ctx context.Context, page *url.URL, e *robotsEntry, res *Result) error {
	host := hostKey(page)
	robotsURL, _ := url.Parse(e.key + "/robots.txt")
	type file struct {
		u     *url.URL
		depth int
	}
	var queue []file
	seen := make(map[string]bool)
	push := func(base *url.URL, raw string, depth int) {
		if len(seen) >= MaxSitemapFiles {
			return
		}
		u, ok := resolveRef(base, []byte(raw))
		if !ok || hostKey(u) != host {
			return
		}
		if s := u.String(); len(s) <= MaxLinkLength && !seen[s] {
			seen[s] = true
			queue = append(queue, file{u, depth})
		}
	}
	for _, s := range e.sitemaps {
		push(robotsURL, s, 0)
	}
	if len(queue) == 0 {
		push(robotsURL, "/sitemap.xml", 0)
	}
	urls, urlBytes := 0, 0
	for len(queue) > 0 && urls < MaxSitemapURLs {
		f := queue[0]
		queue = queue[1:]
		fe := e
		if k := originKey(f.u); k != e.key { // http vs https of the host
			var err error
			if fe, err = r.lookup(ctx, f.u); err != nil {
				return err
			}
		}
		if fe.class != errclass.OK || !fe.allowed(f.u.RequestURI()) {
			r.m.sitemapFetch("disallowed")
			continue
		}
		delay := r.p.effectiveDelay(fe.delay)
		if _, err := r.p.wait(ctx, host, delay, 0); err != nil {
			return err
		}
		status, retryAfter, err := r.h.getSitemap(r.p.fromWire(ctx, host, delay, nil), f.u.String(), func(body io.Reader) error {
			_, perr := sitemap.Parse(body, sitemap.Limits{}, func(kind sitemap.Kind, loc string) bool {
				if kind == sitemap.Index {
					if f.depth < MaxSitemapDepth {
						push(f.u, loc, f.depth+1)
					}
					return true
				}
				u, ok := resolveRef(f.u, []byte(loc))
				if !ok {
					return true
				}
				s := u.String()
				switch {
				case len(s) > MaxLinkLength:
					res.LinksTooLong++
				case urls >= MaxSitemapURLs || urlBytes+len(s) > MaxSitemapBytes:
					res.LinksDropped++ // counted to the end of this file only
				default:
					urls++
					urlBytes += len(s)
					res.Links = append(res.Links, Link{URL: s, Kind: LinkSitemap})
				}
				return true
			})
			return perr
		})
		if err := ctx.Err(); err != nil {
			return err
		}
		if status != 0 {
			r.p.answered(host, status, retryAfter, delay)
		}
		switch {
		case err != nil && status == 0:
			r.m.sitemapFetch("error")
			r.logger.Debug("sitemap unavailable", "url", f.u.Redacted(), "err", urlnorm.Redact(err.Error()))
		case err != nil:
			r.m.sitemapFetch("parse_error")
			r.logger.Debug("sitemap malformed", "url", f.u.Redacted(), "err", urlnorm.Redact(err.Error()))
		case status >= 200 && status < 300:
			r.m.sitemapFetch("2xx")
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
			r.m.sitemapFetch("5xx")
			return nil // the host asks us to slow down: no more sitemaps now
		case status >= 400 && status < 500:
			r.m.sitemapFetch("4xx")
		default:
			r.m.sitemapFetch("5xx")
		}
	}
	return nil
}

// checkSitemapHop is the sitemap client's redirect policy: at most
// maxRobotsRedirects hops, each on the first URL's host and allowed by
// robots.txt; a hop counts for the host's politeness.
func (r *robotsFetcher) checkSitemapHop(ctx context.Context, target *url.URL, via []*http.Request) error {
	if len(via) > maxRobotsRedirects {
		return fmt.Errorf("%w: more than %d", errTooManyRedirect, maxRobotsRedirects)
	}
	if s := target.Scheme; (s != "http" && s != "https") || target.User != nil || hostKey(target) != hostKey(via[0].URL) {
		return errors.New("sitemap redirect leaves the host")
	}
	return r.checkHop(ctx, target)
}
