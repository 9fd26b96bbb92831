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
//	metrics     metrics.go    Prometheus histogram/counters by class
//	robots      robots.go     robots.txt verdict per origin (cached; shared fetch run inline)
//	politeness  politeness.go per-host spacing of page requests
//	HTTP        http.go       one GET: redirects, body cap, hash, title
//
// The robots layer checks the URL against the group of robots.txt that
// applies to the User-Agent's product token. robots.txt is fetched through
// the same keep-alive Transport as pages (so the page usually reuses its
// connection), with RobotsTimeout and RobotsCap, following redirects; it is
// not subject to the politeness delay. A 2xx is parsed, a 4xx allows
// everything, a 5xx or 429, a timeout or another network failure makes the
// origin unavailable (errclass.RobotsUnavailable) for RobotsErrorTTL. When the
// host itself is unreachable (unknown host, refused connection, TLS failure)
// that class is returned instead, so dead hosts get their permanent class.
// Verdicts live in a bounded LRU (RobotsCacheSize origins, RobotsTTL).
// Every redirect hop is checked too, from the HTTP client's CheckRedirect,
// before the hop is requested: a disallowed hop ends the fetch with
// errclass.RobotsDisallowed and FinalURL set to that (unrequested) target.
//
// The robots layer passes the Crawl-delay down; the politeness layer spaces
// requests to one host by max(DefaultDelay, min(Crawl-delay, MaxCrawlDelay)),
// waiting on a timer that ends early when the caller's context does.
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
// Above the HTTP exchange itself a fetch costs a URL parse per layer, a
// cache lookup under a mutex, one context value, the body read into a
// pooled or exactly sized buffer (never BodyCap up front), a SHA-256 of the
// body, and for HTML a tokenizer pass up to </title>.
package crawl
