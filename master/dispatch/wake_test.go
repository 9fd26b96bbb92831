package dispatch

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// enqueue makes urls pending, as a write admitting links would.
func (e *memEnv) enqueue(urls ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, u := range urls {
		e.pending = append(e.pending, frontier.Task{URLID: int64(1000 + len(e.pending)), URL: u, Domain: u})
	}
}

// A claim that found nothing waits for the poll interval, unless the
// writer reports stored results: then the feeder claims again at once.
func TestFeederClaimsAgainWhenResultsAreWritten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 2, 2) // nothing pending: the first claim is empty
		if calls := r.calls(); len(calls) != 0 {
			t.Fatalf("%d batches from an empty frontier", len(calls))
		}
		time.Sleep(testPoll / 10)
		r.env.enqueue("u1", "u2")
		time.Sleep(testPoll / 5)
		if calls := r.calls(); len(calls) != 0 {
			t.Fatalf("%d batches before the poll interval without a write: want the empty claim's wait kept", len(calls))
		}
		at := time.Now()
		r.f.resultsWritten()
		calls := r.calls()
		if len(calls) == 0 {
			t.Fatal("no batch after the writer reported results: want a claim at once")
		}
		if waited := time.Since(at); waited != 0 {
			t.Errorf("claimed %v after the write, want at once", waited)
		}
		if since := time.Since(r.starts); since >= testPoll {
			t.Errorf("claimed %v after the empty claim, want before the poll interval (%v)", since, testPoll)
		}
		// Writes while the last claim found something change nothing.
		r.f.resultsWritten()
		r.f.resultsWritten()
		if more := r.calls(); len(more) != 0 {
			t.Errorf("%d more batches after writes with nothing pending", len(more))
		}
		r.shutdown()
	})
}

// A write reported while a claim runs may postdate the claim's snapshot:
// when that claim finds nothing, the next one is made at once.
func TestFeederWriteDuringAnEmptyClaim(t *testing.T) {
	cfg := &Config{PollInterval: time.Second, BatchSize: 4}
	f := newFeeder("a", nil, newMemEnv(), cfg, NewMetrics(nil), testLogger(t))
	now := time.Now()
	f.claiming = true
	f.onWritten()
	f.onClaim(claimDone{})
	if f.claimAfter.After(now) || f.claimIdle {
		t.Errorf("after an empty claim that saw a write: claimAfter %v, idle %v; want no wait", f.claimAfter.Sub(now), f.claimIdle)
	}
	// Without a write, an empty claim waits; a later write ends the wait.
	f.claiming, f.wroteNow = true, false
	f.onClaim(claimDone{})
	if !f.claimAfter.After(now) || !f.claimIdle {
		t.Fatalf("after an empty claim: claimAfter %v, idle %v; want the poll interval", f.claimAfter.Sub(now), f.claimIdle)
	}
	f.onWritten()
	if !f.claimAfter.IsZero() || f.claimIdle {
		t.Errorf("after a write: claimAfter %v, idle %v; want no wait", f.claimAfter, f.claimIdle)
	}
	// A failed claim keeps its wait: writes do not make it a tight loop.
	f.claiming = true
	f.onClaim(claimDone{err: errShutdown})
	f.onWritten()
	if !f.claimAfter.After(now) {
		t.Errorf("a write ended the wait after a failed claim")
	}
}
