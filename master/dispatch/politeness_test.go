package dispatch

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestFeederPlansPoliteness checks a site waits out what the assistant
// reported for its next request before its next URL is dispatched, while
// the other sites' URLs go at once, and that a site not heard from yet
// gives one URL per batch when fetch.default_delay is set.
func TestFeederPlansPoliteness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spacing := func(c *Config) { c.SiteSpacing = time.Second }
		r := newRigWith(t, idleReport(2), 4, spacing, "http://a/1", "http://a/2", "http://b/1")
		calls := r.calls()
		if len(calls) != 1 || !slices.Equal(calls[0].urls(), []string{"http://a/1", "http://b/1"}) {
			t.Fatalf("first batches %v, want one URL per site in one batch", calls)
		}
		c := calls[0]
		c.fetchedWaiting(0, 2*time.Second)
		c.fetchedWaiting(1, 0)
		end := time.Now()
		c.end(nil)
		if more := r.calls(); len(more) != 0 {
			t.Fatalf("%v dispatched right away: a's next URL must wait 2 s", more[0].urls())
		}
		time.Sleep(1900 * time.Millisecond)
		if more := r.calls(); len(more) != 0 {
			t.Fatalf("a/2 dispatched %v after a's batch, want 2 s", time.Since(end))
		}
		time.Sleep(100 * time.Millisecond)
		more := r.calls()
		if len(more) != 1 || !slices.Equal(more[0].urls(), []string{"http://a/2"}) || time.Since(end) != 2*time.Second {
			t.Fatalf("at %v: %d batches, want a/2 exactly 2 s after a's batch ended", time.Since(end), len(more))
		}
		r.shutdown()
	})
}

// A site's wait counts from its own last result, not from the end of its
// batch: while the batch's other site is still being fetched, the site's
// next URL goes to another slot as soon as its wait has passed.
func TestSiteWaitCountsFromItsResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spacing := func(c *Config) { c.SiteSpacing = time.Second }
		r := newRigWith(t, idleReport(2), 4, spacing, "http://a/1", "http://a/2", "http://b/1")
		calls := r.calls()
		if len(calls) != 1 || !slices.Equal(calls[0].urls(), []string{"http://a/1", "http://b/1"}) {
			t.Fatalf("first batches %v, want one URL per site in one batch", calls)
		}
		c := calls[0]
		c.fetchedWaiting(0, time.Second)
		answered := time.Now()
		time.Sleep(900 * time.Millisecond)
		if more := r.calls(); len(more) != 0 {
			t.Fatalf("a/2 dispatched %v after a/1's result, want 1 s", time.Since(answered))
		}
		time.Sleep(100 * time.Millisecond)
		more := r.calls()
		if len(more) != 1 || !slices.Equal(more[0].urls(), []string{"http://a/2"}) {
			t.Fatalf("1 s after a/1's result, with b/1 still being fetched: batches %v, want a/2 on the other slot", more)
		}
		time.Sleep(500 * time.Millisecond) // b/1 is slow
		c.fetchedWaiting(1, 0)
		c.end(nil)
		more[0].fetchedWaiting(0, time.Second)
		more[0].end(nil)
		r.shutdown()
	})
}
