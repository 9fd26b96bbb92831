package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// claim leases n URLs for the ready queue; it runs in its own goroutine
// (one at a time per feeder) and reports back as a claimDone event.
//
// A claim that failed may still have committed (the connection broke
// after the commit was sent): its leases are then in the database but not
// in the master, and would wait out the lease duration. So after a failed
// claim the next one first releases this assistant's leases the master
// does not hold (orphans).
func (f *feeder) claim(n int, orphans bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if orphans {
		released, err := f.env.releaseUnheld(ctx, f.id)
		if err != nil {
			f.events <- claimDone{err: fmt.Errorf("release the leases of a failed claim: %w", err)}
			return
		}
		if released > 0 {
			f.log.Warn("released leases of a claim whose reply was lost", "urls", released)
			f.m.Released.WithLabelValues("claim_reply_lost", "false").Add(float64(released))
		}
	}
	start := time.Now()
	tasks, err := f.env.claim(ctx, f.id, n)
	f.m.ClaimDuration.Observe(time.Since(start).Seconds())
	f.events <- claimDone{tasks: tasks, err: err}
}

func (f *feeder) onClaim(c claimDone) {
	f.claiming, f.claimIdle = false, false
	f.orphans = false // the claim ran: any orphans were released first
	switch {
	case c.err != nil:
		f.log.Error("claim failed", "err", c.err)
		f.claimAfter = time.Now().Add(f.cfg.PollInterval)
		f.orphans = true
		return
	case len(c.tasks) == 0 && f.wroteNow:
		// The write may have committed after the claim's snapshot: what
		// it released is claimed now.
		return
	case len(c.tasks) == 0:
		// Nothing due: ask again at the next poll, or once the writer
		// stored results (onWritten), not in a tight loop.
		f.claimAfter = time.Now().Add(f.cfg.PollInterval)
		f.claimIdle = true
		return
	case f.stopping || !f.live.owning():
		f.env.release(tokensOf(c.tasks), false, "claimed_while_unavailable")
		return
	}
	f.ready.add(time.Now(), c.tasks)
	// A claim may race with a change of owners.
	f.env.release(f.ready.dropUnowned(f.owned), false, "shard_moved")
}

// ResultsWritten tells every feeder that the writer committed results or
// links (persist.Writer.OnWritten): sites left flight, levels and sites
// became claimable. A feeder whose last claim found nothing claims again
// at once instead of after the poll interval. It never blocks: each
// feeder holds at most one such notice, and still makes at most one claim
// at a time, so the claims it causes are at most one per write per
// feeder.
func (d *Dispatcher) ResultsWritten() {
	for _, f := range d.feeders {
		f.resultsWritten()
	}
}

func (f *feeder) resultsWritten() {
	select {
	case f.wrote <- struct{}{}:
	default: // one is pending already
	}
}

// onWritten ends the wait of an empty claim, or marks the claim in
// flight, whose snapshot may predate the write, to be followed by another.
func (f *feeder) onWritten() {
	switch {
	case f.claiming:
		f.wroteNow = true
	case f.claimIdle:
		f.claimIdle, f.claimAfter = false, time.Time{}
	}
}

func tokensOf(tasks []frontier.Task) []int64 {
	out := make([]int64, len(tasks))
	for i, t := range tasks {
		out[i] = t.Token
	}
	return out
}

// maxClaim caps one claim; firstClaim caps a claim that idle slots wait on.
const (
	maxClaim   = 5000
	firstClaim = 256
)

// claimNeed is what decides the size of the next claim.
type claimNeed struct {
	slots     int // total slots
	free      int // slots not running our batch
	idle      int // slots that could take a batch now
	ready     int // URLs that a batch could take now
	queued    int // URLs leased and not running (ready or waiting on politeness)
	batchSize int
	prefetch  int // batches kept beyond the free slots; 0: half the slots
}

// claimSize returns how many URLs to claim now; 0 means not yet.
//
// The ready queue aims at a batch for every free slot plus a prefetch, so
// a finishing slot is refilled at once. A claim is made once a quarter of
// that target is missing, not at every freed batch: each claim is a
// transaction with a commit, and a few larger claims cost the database
// much less than many small ones while the remaining three quarters keep
// every slot fed. When slots sit idle with nothing ready (the start of a
// crawl, after a lull) they wait on this claim: it is kept small, two URLs
// per idle slot but at least firstClaim, so it returns in a few
// milliseconds instead of the tens a full one takes, and the claims that
// follow fill the prefetch while its batches run. URLs waiting on their
// site's politeness do not count as ready (claims bring other sites), but
// at most four targets' worth are held in all, so a crawl of few sites
// does not lease its whole frontier into memory.
func claimSize(c claimNeed) int {
	pre := c.prefetch
	if pre <= 0 {
		pre = max(1, c.slots/2)
	}
	target := (c.free + pre) * c.batchSize
	want := min(target-c.ready, 4*target-c.queued)
	if want < max(c.batchSize, target/4) {
		return 0
	}
	n := min(want, maxClaim)
	if c.ready == 0 && c.idle > 0 {
		n = min(n, max(firstClaim, 2*c.idle))
	}
	return n
}
