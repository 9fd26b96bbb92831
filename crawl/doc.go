// Package crawl fetches single web pages politely. It is the library behind
// the assistant daemon's worker slots: each slot calls Fetcher.Fetch for one
// URL at a time, hundreds of slots share one Fetcher, and a given host is
// fetched by one process only (so per-host state lives in memory here).
// The package has no gRPC and no database dependencies.
//
// # The stack
//
// New builds small decorators over the Fetcher interface, one concern each
// (outermost first):
//
//	safe        fetcher.go    a panic becomes an errclass.Other Result
//	metrics     metrics.go    Prometheus histogram/counters by class, links by kind
//	robots      robots.go     robots.txt verdict per origin (cached; shared fetch run inline);
//	            sitemaps.go   then the host's sitemaps (Request.Sitemaps); NextRequestAfter
//	politeness  politeness.go per-host spacing of requests, 429/503 host backoff
//	HTTP        http.go       one GET: redirects, body cap, hash, title, links (links.go)
//
// Fetch takes a Request: the URL, whether to follow redirects inside the
// fetch, how many links to extract (0: none) and whether to read the
// host's sitemaps. A Request{URL: u, FollowRedirects: true} is the fetch
// of the URLs-given crawl, unchanged from before requests had options.
//
// The robots layer checks the URL against the group of robots.txt that
// applies to the User-Agent's product token. robots.txt is fetched through
// the same keep-alive Transport as pages (so the page usually reuses its
// connection), with RobotsTimeout and RobotsCap, following redirects. A
// 2xx is parsed, a 4xx allows everything, a 5xx or 429, a timeout or
// another network failure makes the origin unavailable
// (errclass.RobotsUnavailable) for RobotsErrorTTL. When the host itself is
// unreachable (unknown host, refused connection, TLS failure) that class is
// returned instead, so dead hosts get their permanent class. Verdicts live
// in a bounded LRU (RobotsCacheSize origins, RobotsTTL), with the file's
// Sitemap lines. Every redirect hop is checked too, from the HTTP client's
// CheckRedirect, before the hop is requested: a disallowed hop ends the
// fetch with errclass.RobotsDisallowed and FinalURL set to that
// (unrequested) target.
//
// # Politeness
//
// Every request the crawler sends to a host counts: robots.txt, pages and
// sitemap files each wait for the host's slot, so that two requests to one
// host start at least its delay apart, delay = max(DefaultDelay,
// min(Crawl-delay, MaxCrawlDelay)). robots.txt is requested with
// DefaultDelay (the Crawl-delay is in the file); once it is read the
// Crawl-delay applies from it, so on a Crawl-delay host the first page
// comes the Crawl-delay after robots.txt. Redirect hops followed inside a
// fetch are not delayed (a redirect is one fetch, as before) but the
// host's next request waits its delay from the hop. The wait is a timer
// that ends early when the caller's context does. The delay counts from
// when a request was written, not from when its slot was booked: one that
// left late (a slow dial, a busy process) pushes the next one back as
// much (onwire.go), so the server never sees two requests closer than the
// delay. With no delay and no
// backoff a host has no politeness state at all: the common no-delay case
// is a map lookup.
//
// A 429 or a 503 (page, robots.txt or sitemap) slows the whole host, not
// only its URL: the next request to the host waits the answer's
// Retry-After, or else the host's backoff, which starts at max(delay, 1s)
// and doubles with every further 429/503; both are capped at
// max(MaxCrawlDelay, 1s), the longest any politeness wait may make a slot
// sleep (a longer Retry-After still reaches the caller in
// Result.RetryAfter). A 2xx resets the backoff; other answers leave it.
//
// Result.NextRequestAfter is, at the end of the fetch, how long the next
// request to the URL's host would wait: the master hands that host's next
// URL out no sooner, so that no slot sleeps on a host while others are
// ready.
//
// No request is sent twice behind the crawler's back: net/http's Transport
// resends a GET by itself when a reused keep-alive connection fails before
// the first byte of the answer, which bypasses the delay. Every connection
// and request is guarded so that a request that reached the wire is never
// resent; the fetch ends with the read error's class (conn_reset, usually)
// and the master's retry policy decides. See replay.go for how.
//
// # Hostile servers
//
// Every connection (page, redirect hop, robots.txt, sitemap) is dialled
// through a net.Dialer whose control hook is package netguard's: an
// address of a special-purpose range (loopback, private, link-local,
// reserved..., and their IPv4-mapped and NAT64 forms) is refused before
// the connect, unless Config.AllowedNetworks lists it, and the fetch ends
// as errclass.BlockedAddress (permanent; counted in
// crawl_fetch_errors_total{class="blocked_address"}). The check runs on
// the address actually dialled, so DNS names and DNS rebinding are
// covered, and the Resolve override does not bypass it. The Transport
// asks for and decodes gzip only, and the body cap applies to the decoded
// bytes (a gzip bomb is cut at BodyCap); a response's header section is
// capped at MaxHeaderBytes (errclass.Protocol). Error strings have the
// userinfo of any URL in them redacted (urlnorm.Redact).
//
// # Links
//
// With Request.MaxLinks > 0, a 2xx HTML body (by Content-Type, or sniffed
// when there is none) is read once by the x/net/html tokenizer, no DOM,
// for its title, its links and its meta robots (ParsePage has the rules):
// <a href> and <area href> are LinkAnchor, <frame src> and <iframe src>
// LinkFrame; rel=nofollow links are skipped; values are unescaped, cleaned
// as browsers do, cut at '#', and resolved against the first <base href>
// (itself resolved against the final URL after redirects) or the final
// URL; only http(s) results with a host and no userinfo are links, absolute
// and not normalised (the master normalises). Document order; the first
// MaxLinks are returned and the rest counted in Result.LinksDropped.
// Repeated URLs are not merged, and only returned links count toward the
// cap. <meta name="robots"> or <meta name=PRODUCT-TOKEN> and the
// X-Robots-Tag header (comma lists, an optional "agent:" prefix applying
// only when it names our product token) set NoIndex and NoFollow from
// noindex, nofollow and none; a nofollow page returns no links. The body
// is sent as usual for a noindex page: the master decides what it stores.
// Non-HTML and non-2xx bodies yield no links. With MaxLinks 0 the pass
// stops at </title> as before, and only X-Robots-Tag is read.
//
// Non-ASCII in links: hrefs are bytes in the document's encoding. A
// document in another encoding than UTF-8 with non-ASCII bytes is decoded
// to UTF-8 before tokenizing (found like the title's: BOM, header,
// <meta>, UTF-8 validity, windows-1252); links then carry non-ASCII
// characters percent-encoded as UTF-8, in the path and in the query
// (browsers use the document's encoding for the query; one encoding keeps
// canonical URLs canonical).
//
// With FollowRedirects false, a 301, 302, 303, 307 or 308 with a Location
// is the result: class errclass.OK, its status, FinalURL the URL requested,
// no body (up to 2 KiB of it is read and dropped so the connection can be
// reused), and the Location resolved like a link as one LinkRedirect link.
// Its target is not checked against robots.txt here: it is fetched as a
// task of its own. A Location that cannot be a link is errclass.InvalidURL,
// as when following.
//
// Memory per slot is bounded: at most MaxLinks links, each at most
// MaxLinkLength (8 KiB, the longest URL the master stores; longer ones are
// skipped and counted in Result.LinksTooLong), and at most MaxLinkBytes (4
// MiB) of link URLs per page whatever MaxLinks says; the tokenizer reads
// the body already capped at BodyCap.
//
// # Sitemaps
//
// With Request.Sitemaps (a seed of a crawl that reads sitemaps), once the
// page is fetched (class ok, http_4xx or robots_disallowed: the host
// answered; after a transient failure the master retries the seed and
// the sitemaps are read then) the robots layer reads the Sitemap URLs of
// the origin's robots.txt (already cached) that are on the URL's host, or
// /sitemap.xml when there are none. Each file must be on that host
// (redirects too) and allowed by robots.txt, waits for the host's slot,
// and is parsed as a stream by package sitemap (urlset and sitemapindex;
// gzip found by its magic bytes; at most 50,000 entries and 50 MB
// uncompressed per file). Index files are followed breadth first to depth
// MaxSitemapDepth (2), at most MaxSitemapFiles (64) files per fetch; at
// most MaxSitemapURLs (50,000, one full file) URLs and MaxSitemapBytes (8
// MiB) of them are returned, as LinkSitemap links after the page's links;
// beyond, URLs are counted in LinksDropped to the end of the file being
// read (a lower bound). A 429 or 503 stops the reading. Files that fail or
// do not parse are skipped; if the caller's context ends meanwhile the
// fetch is errclass.Canceled. A result therefore stays under about 13 MiB
// (body, page links, sitemap URLs).
//
// The settings, their defaults and their rules are package fetchconfig's
// (a leaf package, so that rpc.yaml can be read without linking the
// fetcher); New takes a fetchconfig.Config.
//
// fetchconfig.Config.Resolve routes host names to fixed addresses (tests,
// staging); when set, the world is closed and unmatched hosts fail as
// errclass.DNSNotFound.
//
// # Error classes
//
// Every Result has a Class from package errclass (its documentation has the
// table of classes and which are transient), decided here by Classify and
// by the layers that know better (robots verdicts, the redirect policy,
// the resolver override).
//
// errclass.Canceled is returned whenever the caller's context ends (cancelled or
// its own deadline): the fetch did not complete, so it says nothing about
// the URL. The package's own deadlines (Timeout, RobotsTimeout) give
// errclass.Timeout and errclass.RobotsUnavailable.
//
// # Costs
//
// Above the HTTP exchange itself a fetch costs a URL parse per layer, two
// map lookups under mutexes (robots cache, politeness), a few contexts
// (timeout, wire guard) and one trace, the body read into a pooled or
// exactly sized buffer (never BodyCap up front), a SHA-256 of the body,
// and for HTML a tokenizer pass up to </title>. Link extraction reads the
// whole document instead, and resolves every link with net/url
// (BenchmarkParsePageLinks measures it; most allocations are x/net/html's
// copies of attribute values).
package crawl
