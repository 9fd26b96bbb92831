// Package admit decides which links found on a page may enter its crawl's
// frontier: each link is normalised (crawl/urlnorm), given its depth (the
// page's + 1 for anchors and frames, the page's own for the target of a
// redirect that was not followed, 1 for sitemap URLs), and checked against
// the crawl's policy in this order:
//
//	reason             refused when
//	invalid            it does not normalise (not http(s), bad host, over urlnorm.MaxLength)
//	url_length         the normalised URL is longer than max_url_length (trap guard)
//	path_segments      its path has more than max_path_segments segments (trap guard)
//	repeated_segments  one path segment occurs more than max_repeated_segments times (trap guard)
//	depth              its depth is over max_depth
//	scope              host scope: its host is not the seed's; domain scope: its site
//	                   (registrable domain) is not the seed's site
//	pattern            it matches no allow expression (when there are any) or a deny one
//
// Scope is relative to the seed the page descends from, not to the page:
// a link found on a page of seed A's site is in domain scope only if it is
// on A's site, even when it points at the site of another seed of the same
// crawl. The target of a seed's redirect is a seed of its own (depth 0, its
// own host and site), so a seed that redirects from example.com to
// www.example.com is crawled in host scope too. A URL found twice on one
// page is offered once.
//
// The package is pure (no I/O): the master runs it on each result as it
// arrives, and the store admits the survivors with the result in one
// fenced transaction, where the site budget and "already known" are
// decided (store.Persist).
package admit
