// Command rawlimit is the ceiling peer of crawlmaster's benchmark: the
// least work a polite one-page-per-domain crawl can do with the Go standard
// library alone.
//
//	rawlimit --list tranco.csv --websim 127.0.0.1:PORT --concurrency N \
//	    --timeout 5s [--limit N]
//
// A fixed pool of N worker goroutines takes domains from a channel. For
// each domain a worker fetches http://<domain>/robots.txt and then, unless
// robots.txt forbids it, http://<domain>/ on one shared http.Transport
// (keep-alive, MaxIdleConnsPerHost 2) whose DialContext connects every
// *.test host to the websim address and fails every other host with a
// "no such host" *net.DNSError, without connecting. So at most N requests
// are in flight.
//
// Robots handling is deliberately minimal: only the Disallow lines of the
// groups for "User-agent: *" are kept and matched as path prefixes (Allow,
// wildcards and Crawl-delay are ignored). A 4xx robots.txt allows all; a
// 5xx one disallows all (RFC 9309) and is counted as robots_disallowed; a
// robots.txt that cannot be fetched (timeout, DNS, connection) is counted
// under that error class and the page is not fetched. Redirects are
// followed up to 5 hops; every hop is checked against the robots.txt of
// its host (fetched once per host, so a hop to www.<domain> costs one more
// robots.txt request); a forbidden hop ends the domain as
// robots_disallowed, a sixth hop as other. Each request has its own
// timeout (--timeout, covering headers and body); bodies are discarded with
// io.Copy(io.Discard) up to 1 MiB, then the connection is closed.
//
// With --urls FILE it fetches exactly the URLs of FILE instead (websim's
// crawl-truth.csv, whose first column is the URL, or one URL per line):
// the ceiling of a site crawl, which fetches what a correct crawl fetches
// without extracting, normalising or admitting a link. URLs are grouped
// by host; per host robots.txt is fetched first, as above (a failure fails
// every URL of the host with its class), then each URL robots.txt allows,
// one after another, redirects not followed (a 3xx is the URL's answer and
// not an error: the crawl truth lists its target as a URL of its own).
// Without --delay, N workers each take a whole host; with --delay D every
// host has a goroutine that puts its requests on the wire at least D apart
// (from one request's headers written to the next one's, robots.txt
// included) and holds one of the N tokens only while a request is in
// flight, so no token waits out a host's delay.
//
//	rawlimit --urls crawl-truth.csv --websim 127.0.0.1:PORT --concurrency N \
//	    --timeout 5s [--delay 1s]
//
// On completion it prints one JSON line on stdout:
//
//	{"tool":"raw","pages_ok":N,"responses":N,"errors":{"conn":0,"dns":0,
//	 "http_4xx":0,"http_5xx":0,"other":0,"robots_disallowed":0,"timeout":0},
//	 "wall_seconds":X}
//
// pages_ok counts final responses with status 200, responses all final
// responses of the home page (any status). Every error class is always
// present. wall_seconds runs from the first request to the last result.
// Logs go to stderr; the exit status is 0 unless the arguments or the list
// are unusable (2).
package main
