// Package urlnorm puts URLs in the canonical form the frontier keys on, and
// derives the host and domain a URL is scheduled under. It is a leaf (the
// standard library and x/net/idna only), so the master imports it without
// the fetcher, and the fetcher uses the same rules for redirect targets.
package urlnorm
