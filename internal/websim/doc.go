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
// (only where robots.txt disallows /private/).
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
// # Latency
//
// With Config.LatencyMedian > 0 every request first waits a latency drawn
// deterministically from a log-normal distribution (median LatencyMedian,
// sigma LatencySigma, capped at LatencyMax) keyed by (Seed, host, path,
// n-th request of that host+path).
//
// # Accounting
//
// [Sim.Requests] counts requests per host and path, [Sim.TotalRequests]
// all requests, and [Sim.DisallowedHits] every request (robots.txt
// excluded) to a path the host's robots.txt disallows; an unavailable
// robots.txt (5xx or hang) disallows everything (RFC 9309). A correct
// crawler leaves DisallowedHits empty. Counters exist only for requested
// host/path pairs; [Sim.RequestCounts] lists them all and
// [Sim.WriteRequests] writes them as CSV (cmd/websim --requests-out).
//
// # Files
//
// [Sim.WriteTranco] writes "rank,domain" CRLF lines without header, like
// the real Tranco top-1m.csv. [Sim.WriteGroundTruth] writes a CSV with the
// header rank,domain,url,state,class,http_status,final_url,title,robots,
// read back by [ReadGroundTruth]. The command cmd/websim writes both and
// serves until interrupted.
package websim
