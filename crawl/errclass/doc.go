// Package errclass is the closed vocabulary of fetch outcomes: every fetch
// ends in exactly one Class, a stable lowercase string that is stored in the
// database (frontier.last_class, results.error_class), shown by `master dead
// list` and used as a metric label. On the wire it travels as the
// ErrorClass enum of proto/crawlmaster/v1; internal/wire maps between the
// two in one table.
//
// The package is a leaf: it imports nothing but the standard library, so the
// master uses classes without linking the fetcher (robots.txt, HTTP, HTML).
// The crawl package decides the class of a fetch (crawl.Classify); the
// master's retry policy decides what a class means for the URL.
//
//	class               kind       meaning
//	ok                  -          2xx (also with a body truncated at the body cap)
//	http_4xx            permanent  4xx other than 429
//	http_429            transient  429 Too Many Requests (may carry Retry-After)
//	http_5xx            transient  5xx (503 may carry Retry-After)
//	robots_disallowed   permanent  URL or a redirect hop disallowed by robots.txt
//	robots_unavailable  transient  robots.txt 5xx/429, timeout or network failure
//	timeout             transient  the fetch timeout (or a connect timeout) elapsed
//	conn_refused        transient  TCP connection refused
//	conn_reset          transient  connection reset, or unexpected EOF
//	dns_not_found       permanent  unknown host (NXDOMAIN, or no resolve rule matches)
//	dns_temporary       transient  DNS failure other than not-found
//	too_many_redirects  permanent  more redirects than allowed (loops end here)
//	tls                 permanent  certificate or handshake failure
//	invalid_url         permanent  unparsable URL, not http(s), userinfo, bad redirect
//	blocked_address     permanent  the host (or a redirect hop, or robots.txt) is at an
//	                               address of a special-purpose range (loopback, private,
//	                               link-local...) not in fetch.allowed_networks; nothing sent
//	protocol            transient  malformed HTTP response
//	canceled            transient  the caller's context ended: not an outcome
//	other               transient  anything else (also unknown stored strings)
//
// Canceled says the fetch did not complete, so it says nothing about the
// URL; an assistant gives such a task back unfetched and the master returns
// it to pending without charging an attempt.
package errclass
