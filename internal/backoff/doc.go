// Package backoff is the one place the daemons wait between tries and
// spread periodic work: an exponential, jittered, capped Backoff for
// retries, Jitter for periodic timers (so many processes or loops started
// together do not fire together) and Sleep, a wait that ends early when
// its context does.
package backoff
