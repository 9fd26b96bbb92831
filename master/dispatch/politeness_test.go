package dispatch

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
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

// A task the assistant gives back DEFERRED keeps its lease: it is neither
// released nor stored nor charged, and goes out again, alone, once its
// host's wait has passed, while the batch's other site is done at once.
// The batch says the slot may wait at most MaxSlotWait.
func TestDeferredTaskIsSentAgainWhenItsHostIsReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		maxWait := func(c *Config) { c.MaxSlotWait = 50 * time.Millisecond }
		r := newRigWith(t, idleReport(1), 4, maxWait, "http://a/1", "http://b/1")
		calls := r.calls()
		if len(calls) != 1 || len(calls[0].urls()) != 2 {
			t.Fatalf("first batches %v, want a/1 and b/1 in one batch", calls)
		}
		c := calls[0]
		if got := c.req.GetMaxPolitenessWait().AsDuration(); got != 50*time.Millisecond {
			t.Errorf("max_politeness_wait = %v, want 50ms", got)
		}
		c.deferred(0, 800*time.Millisecond)
		deferredAt := time.Now()
		c.fetchedWaiting(1, 0)
		c.end(nil)
		synctest.Wait()
		released, stored, _ := r.env.snapshot()
		if len(released) != 0 || len(stored) != 1 {
			t.Fatalf("after the batch: released %v, stored %d; want nothing released, b/1 stored", released, len(stored))
		}
		time.Sleep(790 * time.Millisecond)
		if more := r.calls(); len(more) != 0 {
			t.Fatalf("a/1 sent again %v after it was deferred, want 800ms", time.Since(deferredAt))
		}
		time.Sleep(10 * time.Millisecond)
		more := r.calls()
		if len(more) != 1 || !slices.Equal(more[0].urls(), []string{"http://a/1"}) {
			t.Fatalf("800ms after the deferral: batches %v, want a/1 again", more)
		}
		if more[0].req.GetTasks()[0].GetLeaseToken() != c.req.GetTasks()[0].GetLeaseToken() {
			t.Error("a/1 went out again under another lease: the deferral must keep it")
		}
		more[0].fetchedWaiting(0, 0)
		more[0].end(nil)
		synctest.Wait()
		released, stored, _ = r.env.snapshot()
		if len(released) != 0 || len(stored) != 2 || r.env.attempts("http://a/1") != 1 {
			t.Fatalf("released %v, stored %d, a/1 attempts %d; want nothing released, both stored, a/1 charged once",
				released, len(stored), r.env.attempts("http://a/1"))
		}
		if got := testutil.ToFloat64(r.m.Deferred); got != 1 {
			t.Errorf("deferred_urls_total = %v, want 1", got)
		}
		r.shutdown()
	})
}

// A deferred task whose assistant is draining when it comes back is
// released uncharged instead of kept.
func TestDeferredTaskReleasedWhenFeederStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		maxWait := func(c *Config) { c.MaxSlotWait = 50 * time.Millisecond }
		r := newRigWith(t, idleReport(1), 4, maxWait, "http://a/1")
		c := r.calls()[0]
		r.stop() // the master is shutting down: the feeder stops dispatching
		synctest.Wait()
		c.deferred(0, time.Second)
		c.end(nil)
		<-r.done
		released, stored, _ := r.env.snapshot()
		want := []releaseCall{{urls: []string{"http://a/1"}, reason: "deferred"}}
		if !equalReleases(released, want) || len(stored) != 0 {
			t.Fatalf("released %v, stored %d; want a/1 released uncharged as deferred", released, len(stored))
		}
	})
}
