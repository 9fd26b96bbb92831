package dispatch

import (
	"context"
	"time"

	"github.com/crawlmaster/crawlmaster/master/admit"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// env is the part of the master a feeder works through. The Dispatcher
// implements it over the store, the writer and the shard owner table;
// tests of the loop implement it in memory.
type env interface {
	// claim leases up to n due URLs from the shards owner owns now.
	claim(ctx context.Context, owner string, n int) ([]frontier.Task, error)
	// releaseUnheld returns to pending, uncharged, the leases made for
	// owner that the master does not hold: those of a claim that
	// committed while its reply was lost. Only owner's feeder claims for
	// owner, so it is safe between that feeder's claims.
	releaseUnheld(ctx context.Context, owner string) (int64, error)
	// release returns leased URLs to pending; charge counts an attempt.
	// It never fails: what cannot be released now is retried at
	// shutdown, and past that the lease expires and is rescued.
	release(tokens []int64, charge bool, reason string)
	// submit hands a decided outcome to the writer, blocking while it is
	// full (back-pressure); it fails only when ctx is done.
	submit(ctx context.Context, o frontier.Outcome) error
	// owns reports whether owner owns shard now.
	owns(owner string, shard int16) bool
	// setLive records whether owner takes work and with how many slots;
	// when that changes, shards move and every feeder is woken.
	setLive(owner string, live bool, slots int)
	// firstPollEnded says owner's first poll ended (answered or not);
	// canClaim reports whether every feeder's has. Nothing is claimed
	// before: claiming with a partial live set would lease the others'
	// shards only to release them a moment later.
	firstPollEnded(owner string)
	canClaim() bool
	// inflight adds delta URLs to those in flight on every assistant.
	inflight(delta int)
	// batchID names a new batch.
	batchID() string
	// policy returns the admission policy of a crawl (the default crawl's
	// when the crawl is unknown).
	policy(crawlID int32) *admit.Policy
	// refused counts links the policies refused, by reason.
	refused(r *admit.Refused)
	// noteSite records that site may not be sent again before t, for
	// whichever feeder owns it next; siteNotBefore reads it (zero: no
	// wait known).
	noteSite(site string, t time.Time)
	siteNotBefore(site string) time.Time
}
