package crawl

import "context"

type requestStartKey struct{}

// WithRequestStart returns a context under which Fetch calls fn once, just
// before it sends the page's first request: robots.txt has allowed the URL
// and the politeness delay has passed, so from then on the URL is really
// being fetched. A fetch that ends earlier (disallowed, robots.txt
// unavailable, cancelled while waiting) never calls it. The assistant uses
// it to tell the master which task a slot is fetching, so that a batch cut
// off by a crash charges an attempt only to a URL that was requested.
func WithRequestStart(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, requestStartKey{}, fn)
}

// RequestStarting calls the WithRequestStart callback of ctx, if any. The
// HTTP layer calls it; a Fetcher written outside this package calls it
// just before its own page request.
func RequestStarting(ctx context.Context) {
	if fn, ok := ctx.Value(requestStartKey{}).(func()); ok {
		fn()
	}
}
