// Package websim is a synthetic web for testing and benchmarking the
// crawler: one HTTP/1.1 server on one loopback port that serves any number
// of synthetic domains, chosen by the Host header (or by an absolute-form
// request target, as an HTTP proxy receives it).
//
// # Domains
//
// Rank r (1..Config.Domains) is the domain "w<r>-<word>.test", e.g.
// "w42-maple.test"; the word is derived from (Seed, r) and the rank is
// parsed back from the Host, so a million domains cost no memory up front.
// "www.w42-maple.test" is an alias served identically (redirect chains use
// it). Unknown-host domains are listed as "w<r>-<word>.invalid" and are
// never served: the crawler's closed-world resolver routes only *.test to
// websim, so they fail name resolution. Requests for names websim does not
// serve are answered 421 and counted by [Sim.MisdirectedRequests].
//
// Every domain has a deterministic [Profile]: a home-page kind ([HomeKind])
// and a robots.txt kind ([RobotsKind]), drawn independently from
// (Seed, rank) with the shares in [Config.Fractions]. Every kind with a
// non-zero fraction occurs, not masked by the other axis, among the first
// [Config.CoverageWindow] (2000) ranks. Paths a profile does not define
// answer 404. Defined paths: /robots.txt, /, /about (200 for every served
// domain), /hop/1../hop/3 and /landing (redirect chains), /private/home
// (only where robots.txt disallows /private/), and with [Config.Changing]
// /changing/0.. (see Changing pages).
//
// # Expected outcomes
//
// The ground truth ([Sim.Expect], [Sim.WriteGroundTruth]) is the final
// outcome of a correct polite crawl of http://<domain>/ that honours
// robots.txt (a 4xx robots.txt allows all; a 5xx or hanging one is
// transient), follows at most 5 redirects, uses a page timeout shorter
// than HangFor but longer than LatencyMax+RobotsSlowDelay, truncates bodies
// at a 1 MiB cap and retries transient failures (5xx, 429, timeouts) with
// max_attempts >= 3. Robots.txt verdicts take precedence over the home
// page: an unknown host fails first, then a disallow-all or unavailable
// robots.txt decides, then the home page.
//
//	kind (default share)        served                                  state   class               status  final_url        title
//	--------------------------  --------------------------------------  ------  ------------------  ------  ---------------  -----
//	ok (77.5%, remainder)       200 HTML                                done    ok                  200     seed             "Home of <d>"
//	redirect (10%)              1-3 hops 301/302/307/308, same host     done    ok                  200     http://[www.]    "Home of <d>"
//	                            or www.<d>, relative or absolute,                                           <d>/landing
//	                            ending in 200 /landing
//	redirect_loop (0.5%)        / redirects to / (one code per domain)  failed  too_many_redirects  30x     seed             ""
//	redirect_disallowed (0.5%)  / redirects to /private/home, robots    failed  robots_disallowed   30x     .../private/home ""
//	                            "Disallow: /private/" (crawler must
//	                            not request it)
//	not_found (2%)              404                                     failed  http_4xx            404     seed             ""
//	gone (0.5%)                 410                                     failed  http_4xx            410     seed             ""
//	server_error (1%)           500 always                              dead    http_5xx            500     seed             ""
//	unavailable (0.5%)          503 + Retry-After: 1 always             dead    http_5xx            503     seed             ""
//	flaky (1%)                  503 on the host's 1st request of /,     done    ok                  200     seed             "Home of <d>"
//	                            200 from the 2nd on
//	too_many_requests (0.5%)    429 + Retry-After: 1 always             dead    http_429            429     seed             ""
//	hang (0.5%)                 nothing for HangFor (60s)               dead    timeout             0       seed             ""
//	huge (0.5%)                 HugeBodySize (3 MiB) HTML, chunked,     done    ok                  200     seed             "Huge page of <d>"
//	                            title first (truncate, don't fail)
//	json (0.5%)                 application/json                        done    ok                  200     seed             ""
//	png (0.5%)                  image/png (1x1)                         done    ok                  200     seed             ""
//	broken_html (1%)            unclosed tags, title intact             done    ok                  200     seed             "Broken page of <d>"
//	latin1 (0.5%)               ISO-8859-1 declared in Content-Type     done    ok                  200     seed             "Café Zürich · <d>"
//	euc_kr (0.5%)               EUC-KR declared by <meta charset>       done    ok                  200     seed             "한국어 홈페이지 - <d>"
//	unknown_host (2%)           .invalid, not served                    failed  dns_not_found       0       seed             ""
//
// "seed" is http://<d>/, where <d> is the listed domain. With a robots.txt
// that does not decide (see below), the robots column is "allowed", except
// "unavailable" for unknown_host and "disallowed" for redirect_disallowed.
// Titles are given decoded to UTF-8 and trimmed.
//
// Robots.txt kinds (independent of the home kind; redirect_disallowed
// forces disallow_some and unknown_host has none):
//
//	robots kind (default share)  served                                 outcome (overrides the home kind?)
//	---------------------------  -------------------------------------  --------------------------------------------------
//	allow_all (75%, remainder)   200 "User-agent: *\nDisallow:"          home kind decides; robots=allowed
//	disallow_all (1%)            200 "Disallow: /"                       failed robots_disallowed, status 0, robots=disallowed
//	disallow_some (5%)           200 "Disallow: /private/"               home kind decides (/ is allowed)
//	crawl_delay (2%)             200 allow all + "Crawl-delay: 1"        home kind decides
//	not_found (15%)              404 (allow all)                         home kind decides
//	server_error (0.5%)          500 always                              dead robots_unavailable, status 0, robots=unavailable
//	slow (1%)                    allow all after RobotsSlowDelay (300ms) home kind decides
//	hang (0.5%)                  nothing for HangFor                     dead robots_unavailable, status 0, robots=unavailable
//
// HTTPStatus is the status of the last response received (0 if none) and
// FinalURL the last URL reached, including a redirect target that
// robots.txt forbade fetching.
//
// # Sites
//
// With [Config.Sites] (cmd/websim --sites), a share of the domains are
// sites: their home page links a deterministic graph of pages, generated on
// demand from hashes of (Seed, rank) like the profiles, so a million sites
// cost no memory up front. Only domains whose home kind is a stable HTML
// page (ok, broken_html, latin1, euc_kr) can be sites ("eligible"); every
// other domain, and every domain when sites are off, serves exactly what
// it serves without sites, and [Sim.Expect] is the same for all domains.
// --sites takes all (every eligible domain), a fraction of the eligible
// ones drawn per rank (0.3 or 30%), or a count (500: the first 500 eligible
// ranks). A site keeps its profile (home kind, robots kind, title).
//
// A site has Pages regular pages, drawn per site from a log-normal
// distribution (--site-pages mean=50,sigma=1,max=1000: median 0.61 x mean,
// a long tail; sigma 0 gives every site exactly the mean), and a fixed set
// of feature pages. Every site has every feature unless --site-features
// leaves some out (all, none, "calendar,bigpage" to keep only those,
// "-calendar,-junk" to drop those). [Sim.Site] describes a site.
//
// Page i is /s<i/10>/p<i>.html. The home page links pages 0..7 and each
// page j links its tree children 8(j+1)..8(j+1)+7, so page i is at most
// 1+log8(i) links deep; every page also links the home page and three pages
// of the site drawn from (seed, rank, i). Page 0 links /hidden/h0.html with
// rel="external nofollow" and /s0/missing.html, page 1 /members/profile.html,
// page 2 an /old/ redirect. The home page is the plain home page of its
// kind (its /about link, and /private/home for an ok home page with
// robots kind disallow_some) followed by the links of the table below, in
// this order.
//
//	feature     paths (all HTML unless said)                     served; links
//	----------  -----------------------------------------------  -------------------------------------------------
//	(pages)     /s<i/10>/p<i>.html                               home, tree children, 3 drawn pages
//	forms       /links.html; http://www.<d>/s0/p0.html           one page written in every link form (below);
//	                                                             the www alias answers 301 to http://<d>/...
//	query       /search?page=1..3&q=<word>                       next (unsorted, raw &) and previous page, a page
//	members     /members/, /members/*.html                       200, but robots.txt "Disallow: /members/";
//	                                                             linked from home, page 1, /go/members, sitemaps
//	sessions    /shop/, /shop/item0..3.html                      trap: every link carries a session id drawn
//	                                                             anew per request (sid=, PHPSESSID=, sessionid=,
//	                                                             ;jsessionid=); 5 URLs once canonical
//	calendar    /cal/YYYY/MM/ (1900-01..2100-12)                 trap: the previous and next month (../MM/,
//	                                                             ../../YYYY/MM/); home links a month of 2020-2029
//	repeat      /loop/en/, /loop/en/en/, ... (64 max)            trap: relative "en/"
//	deep        /deep/d1a/.../d1g/ + 7 segments per level (10)   trap: relative link to the next level
//	longurl     /grow/<token> of 640, 1280, ... 10240 bytes      trap: relative link to the doubled token
//	bigpage     /big/links.html; /big/edge-in.html, edge-out     1,500 distinct hrefs (sid= variants of pages
//	                                                             0..7); link 1,000 is edge-in, 1,001 edge-out
//	base        /base/index.html; /based/t1.html, sub/t2.html    <base href="/based/"> then a second, ignored
//	                                                             <base href="/wrong/">; relative links
//	robotsmeta  /meta/{noindex,nofollow,none,upper,otherbot,     meta robots noindex / nofollow / none /
//	            xrt-noindex,xrt-nofollow}.html, each with a      "NOINDEX, NOFOLLOW" (name ROBOTS), meta for
//	            <name>-child.html linked only from it            "otherbot" (not us), X-Robots-Tag header
//	frames      /media.html (iframe, area), /frames.html         <iframe src>, <area href>, <frameset><frame src>
//	            (frameset); /embed/*.html, /frames/*.html
//	resources   /files/report.pdf, /img/photo.png,               application/pdf, image/png, application/json
//	            /data/feed.json                                  (fetched; no links, whatever their text says)
//	redirects   /old/<page path> 301 absolute; /go/page 302,     to a page; /go/members to a disallowed page;
//	            /go/members 302, /go/away 302, /go/www 301,      /go/away to another websim domain; /go/www to
//	            /go/temp 307, /go/moved 308, /go/loop 302,       the www alias (then 301 again); /go/temp to
//	            /go/session 302                                  http://<D>:80/...; /go/moved "../s0/..."; a loop
//	                                                             to itself; ;jsessionid= in the Location
//	deadlinks   /removed.html 410, /s0/missing.html 404          failed http_4xx
//	nofollow    /hidden/h0.html, /hidden/h1.html                 linked only with rel=nofollow ("nofollow",
//	                                                             "noopener nofollow", "external nofollow")
//	crosssite   http://<other domain>/, .../about,               other websim domains (sites or not), a listed
//	            http://<unknown>.invalid/, http://nowhere-<r>    unknown host, two more unknown hosts (one https)
//	            .invalid/x.html, https://secure-<r>.invalid/login
//	sitemaps    see below; /orphan/o0..2.html (+ -child.html)    orphans are listed in sitemaps only
//	junk        mailto:, javascript:, tel:, ftp:, <a name>,      none of them is a link: a crawler must fetch
//	            a commented-out and a script-written <a>,        nothing for them
//	            <img src>, <link href>, <script src>
//
// Leaf pages (members, edge, based, embed, frames, hidden, meta children,
// orphan children) link the home page only. A site's own paths on the
// www alias answer 301 to the domain; the plain paths (/, /about,
// /robots.txt, ...) are served on both hosts as for any domain. A
// request is answered in canonical form (session ids and ;jsessionid=
// removed, parameters sorted, dot segments resolved), so a crawler that
// does not normalise still gets the pages (and falls into the traps);
// any other query answers 404.
//
// Link forms. Links to pages of the site are written, drawn per (page,
// link), as (share): /path (4/14), relative to the page (3/14: p3.html,
// ../s1/p12.html, ../ and ./), ./relative, /z/../path, http://<d>/path (2/14),
// http://<D>/path (host upper-cased), http://<d>:80/path, //<d>/path; a
// quarter of them also carry ?sid=<hex>, ;jsessionid=<HEX> (path parameter),
// ?...&PHPSESSID=<hex> or a #fragment; queries are written sorted or
// reversed, '&' as &amp;. /links.html writes one page in every form,
// including HTTP://, &#47;, single-quoted, unquoted and <A HREF>, an empty
// href and "#top", ?sessionid=, and the search page with a raw '&'. All of
// them normalise to one URL under these rules, and only these (websim
// emits no percent-encoding, no https to its own hosts, no port but :80):
// lower-case scheme and host, drop :80 and the fragment, resolve dot
// segments, remove ";jsessionid=..." and the query parameters jsessionid,
// phpsessid, sid, sessionid, aspsessionid, cfid and cftoken (any case),
// sort the other parameters by name ([Canonical]).
//
// Traps and what ends them (with the default guards: URL length 2,048
// bytes, 20 path segments, a segment at most twice):
//
//	trap       growth per link                  ended by                                       URLs (default guards)
//	---------  -------------------------------  ---------------------------------------------  ---------------------
//	sessions   a fresh session id in each link  normalisation (session ids removed)            5
//	calendar   one month each way               depth (2 x depth - 1 months) or budget only    2 x depth - 1
//	repeat     en/ appended                     max_repeated_segments (en x 3 refused)         2
//	deep       7 distinct segments appended     max_path_segments (8, 15, then 22)             2
//	longurl    the token doubles                max_url_length (672, 1312, then 2592 bytes;    2
//	                                            the last step exceeds 8 KiB, the hard limit)
//	bigpage    1,500 links                      max_links (link 1,001 and later dropped)       edge-out not admitted
//
// Without guards the server stops them at 64 en/, 10 levels, 10,240 bytes
// and the years 1900-2100.
//
// Sitemaps (feature sitemaps), by a kind drawn per site ([SitemapKind]).
// The entries are the home page, every fourth page (3, 7, 11, ...), the
// three orphans, /search?q=<word>&page=3 (written unsorted, &amp; in the
// XML) and /members/archive.html (disallowed):
//
//	kind      robots.txt "Sitemap:"                 files
//	--------  ------------------------------------  ----------------------------------------------------------
//	robots    http://<d>/sitemap.xml                /sitemap.xml: urlset of all entries
//	index     http://<d>/sitemap_index.xml          index of /sitemaps/pages.xml (home and pages) and
//	                                                /sitemaps/extra.xml.gz (gzip: the rest); /sitemap.xml
//	                                                lists only /orphan/decoy.html
//	fallback  none                                  /sitemap.xml: urlset of all entries
//	gzip      http://<d>/sitemap.xml.gz             /sitemap.xml.gz: gzip urlset of all entries; /sitemap.xml 404
//
// A site's robots.txt (for robots kinds allow_all, disallow_some,
// crawl_delay and slow; the others keep their behaviour) is a group
// "User-agent: examplebot / Disallow: /" for another crawler, then the
// group for "*": "Disallow: /members/", "Disallow: /private/" for
// disallow_some, "Crawl-delay: 1" for crawl_delay or the value of
// [SiteConfig.CrawlDelay] (--site-crawl-delay) for every site, and the
// Sitemap line. [Sim.CrawlDelay] returns what a host advertises.
//
// # Crawl truth
//
// [Sim.CrawlTruth] computes, from the graph above and with websim's own
// code (no crawler package), the exact set of URLs a correct crawl of a
// [CrawlPolicy] admits to its frontier, each with its depth and outcome;
// [Sim.WriteCrawlTruth] writes it as CSV (url, depth, state, class,
// http_status, noindex), [ReadCrawlTruth] reads it (cmd/websim
// --crawl-truth writes DIR/crawl-truth.csv). Semantics:
//
//   - Seeds are http://<domain>/ of the policy's ranks, as the Tranco list
//     lists them. URLs are canonical ([Canonical]).
//   - Depth is the shortest link distance from a seed: links and frames
//     add 1; an unfollowed redirect's target keeps its source's depth and is
//     a URL of its own, fetched once; sitemap URLs are depth 1. URLs deeper
//     than max_depth are not admitted. Every URL is listed once, at its
//     smallest depth.
//   - A redirect target found at depth 0 is a seed of its own (design
//     "seed"): admitted whatever the scope. Other links, redirect targets and
//     sitemap URLs are admitted only in scope, relative to the page they
//     are found on (which, for host and domain scope, has its seed's host or
//     domain): host = same host; domain = same registrable domain (the last
//     two labels for websim's hosts, as the Public Suffix List says), so
//     www.<d> is in <d>'s domain; any = all.
//   - Guards refuse a discovered URL whose canonical form is longer than
//     max_url_length bytes (and always beyond 8,192), has more than
//     max_path_segments non-empty path segments, or in which one non-empty
//     segment occurs more than max_repeated_segments times (anywhere in the
//     path). 0 turns a guard off.
//   - Links are read from 2xx HTML pages only: <a href>, <area href>,
//     <frame src>, <iframe src>, resolved against the first <base href>
//     (else the page URL), http(s) only, rel containing nofollow skipped, in
//     document order; the first max_links of those are kept (each occurrence
//     counts, repeats included: the truth is independent of the counting
//     convention as long as max_links is at least 70, every page but
//     /big/links.html having fewer links). A page with meta robots
//     (name "robots") or X-Robots-Tag nofollow, or none, yields no links;
//     noindex pages are fetched and flagged. Resources yield no links.
//   - With sitemaps, each seed's host is read as the design says, once the
//     seed's own outcome is ok, http_4xx or robots_disallowed (a seed that
//     ends dead, an unknown host or an unavailable robots.txt has none
//     read): the Sitemap: URLs of its robots.txt on the same host, else
//     /sitemap.xml; index files followed to depth 2; a file robots.txt
//     disallows is not read. The files are listed in [Truth.Sitemaps] (a
//     non-site domain's /sitemap.xml answers 404; sites' home pages always
//     answer 200, so which seeds read sitemaps changes no URL of the truth).
//   - Outcomes follow the home-page ground truth: unknown hosts fail
//     dns_not_found and are not requested; robots.txt unavailable (5xx,
//     hang) is dead robots_unavailable; a disallowed URL is failed
//     robots_disallowed and not requested (listed, since it is in the
//     frontier: [TruthURL.Requested], [Truth.NotRequested]); an unfollowed
//     3xx is done ok with its status; 4xx failed http_4xx; 5xx, 429 and
//     hangs dead after the retries; the flaky home page done after one.
//     With follow_redirects (the default crawl) up to 5 redirects are
//     followed inside the fetch, each target checked against robots.txt,
//     and at depth 0 the truth of every seed equals [Sim.Expect].
//   - site_budget: the truth is the crawl without a budget; sites with more
//     URLs than the budget are listed in [Truth.OverBudget]. For them a
//     correct crawl admits exactly site_budget URLs (host or domain scope),
//     all of them in the truth, at depths no smaller; other sites are not
//     affected. With scope any a site reached through one over budget may
//     lose URLs too.
//
// # Changing pages
//
// With [Config.Changing] (Enabled; off by default, and then nothing
// below exists: /changing/ paths answer 404 or what a site answers for an
// unknown path), pages change on a deterministic schedule, for testing
// revisits and conditional GET. Every domain whose home kind is ok (a site
// or not) and whose robots.txt allows /changing/ (every robots kind but
// disallow_all, server_error and hang) serves /changing/0 ..
// /changing/<PagesPerHost-1> (default 5) on its bare name; the www alias,
// other domains, other paths and any query answer as without changing
// pages. Nothing links them and no ground truth lists them: they are seeds,
// [Sim.ChangingURLs] gives them. [Sim.Expect], the ground truth files and
// the crawl truth are the same with and without them.
//
// Page i of rank r has a change interval drawn uniformly from
// [ChangingConfig.Intervals] (default 1m, 5m, 30m, 2h, 24h; each at least
// 1s) and a phase in [0, interval), both from (Seed, r, i). At time t (of
// [ChangingConfig.Clock], default time.Now, read once per response after
// any latency) its version is floor((t - Epoch - phase) / interval),
// negative before Epoch+phase (Epoch defaults to 2020-01-01T00:00:00Z).
// A response is a 200 UTF-8 HTML leaf (no links) titled "Changing page
// <i> of <d>" for every version, whose body states the version and a
// revision drawn from it: the bytes (and their SHA-256) are the same for a
// version and differ from one version to the next. It carries a strong
// ETag "p<i>-v<version>-<16 hex>", Last-Modified (the version's start,
// truncated to seconds, http.TimeFormat) and a Date from the Sim's clock.
//
// A GET or HEAD with If-None-Match is answered 304 Not Modified (no body;
// ETag, Last-Modified and Date sent) when one of its entity tags matches by
// weak comparison, or it is "*"; otherwise, when If-None-Match is absent,
// a single valid If-Modified-Since not earlier than Last-Modified gives
// 304 too (RFC 9110 section 13.2.2). A share of the changing domains,
// [ChangingConfig.IgnoreConditionalShare] (default 0.2; negative: none)
// drawn per rank, ignore conditionals: they always answer 200 in full,
// still sending ETag and Last-Modified, as servers that expose validators
// without honouring them do; [Sim.IgnoresConditional] tells which.
//
// Ground truth: [Sim.ChangingPageAt] (interval, phase, version, start,
// next change, ETag, Last-Modified at any time), [Sim.ChangeInterval],
// [Sim.Version]. Requests are counted per host and path and recorded in
// the timeline like any other; [Sim.ChangingResponses],
// [Sim.NotModifiedResponses] and [Sim.ChangingBodyBytes] (body bytes
// written: nothing for a 304 or a HEAD) count the responses.
//
// # Latency
//
// With Config.LatencyMedian > 0 every request first waits a latency drawn
// deterministically from a log-normal distribution (median LatencyMedian,
// sigma LatencySigma, capped at LatencyMax) keyed by (Seed, host, path,
// n-th request of that host+path).
//
// # Accounting
//
// [Sim.Requests] counts requests per host and path (as received, with
// "?query" when the request had one, so every URL of a site has its own
// counter), [Sim.TotalRequests] all requests, and [Sim.DisallowedHits] every
// request (robots.txt excluded) to a path the host's robots.txt disallows
// (for sites /members/ too); an unavailable robots.txt (5xx or hang)
// disallows everything (RFC 9309). A correct crawler leaves DisallowedHits
// empty. Counters exist only for requested host/path pairs;
// [Sim.RequestCounts] lists them all and [Sim.WriteRequests] writes them as
// CSV (cmd/websim --requests-out). A correct crawl requests every URL of
// the crawl truth for which [TruthURL.Requested] holds exactly once (dead
// ones once per attempt, the flaky home page twice), robots.txt once per
// host and cache period, and the sitemap files of [Truth.Sitemaps].
//
// With [Config.TimelineSize] > 0 (cmd/websim --timeline-out), websim also
// records when each request to a served host started (arrived: the
// kernel's receive time on Linux, so a loaded websim does not skew the
// gaps; handler entered elsewhere) and ended (handler returned), the last TimelineSize
// per host: [Sim.HostTimeline], [Sim.SiteTimeline] (domain and www alias
// together), [Sim.WriteTimeline]. A polite crawler's spans on one host
// never overlap and start at least its delay (max of the crawler's own and
// [Sim.CrawlDelay]) apart.
//
// # Files
//
// [Sim.WriteTranco] writes "rank,domain" CRLF lines without header, like
// the real Tranco top-1m.csv. [Sim.WriteGroundTruth] writes a CSV with the
// header rank,domain,url,state,class,http_status,final_url,title,robots,
// read back by [ReadGroundTruth]. The command cmd/websim writes both (and
// the crawl truth of a policy with --crawl-truth) and serves until
// interrupted.
package websim
