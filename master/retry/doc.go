// Package retry decides what happens to a URL after a fetch: final success,
// final failure, or another attempt after an exponential, jittered backoff.
//
// Transient classes (timeouts, refused or reset connections, 5xx, 429,
// temporary DNS errors, robots.txt unavailable) are retried until
// MaxAttempts, then the URL is dead. Permanent classes (4xx, robots
// disallowed, unknown host, too many redirects) are final at once.
package retry
