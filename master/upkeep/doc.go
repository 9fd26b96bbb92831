// Package upkeep is the leader's periodic work on stored crawl state that
// is not dispatch: revisits falling due (their URLs become pending again),
// scheduled crawls' rounds (their seeds become due at each tick, under
// the crawl's overlap rule), and retention (results older than their
// crawl's retention are deleted with their bodies, in small batches,
// while the crawl runs). Each pass is a few short statements; the loop is
// jittered and stops with its context.
package upkeep
