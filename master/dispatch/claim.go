package dispatch

import (
	"context"
	"time"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// claim leases n URLs for the ready queue; it runs in its own goroutine
// (one at a time per feeder) and reports back as a claimDone event.
func (f *feeder) claim(n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	tasks, err := f.env.claim(ctx, f.id, n)
	f.m.ClaimDuration.Observe(time.Since(start).Seconds())
	f.events <- claimDone{tasks: tasks, err: err}
}

func (f *feeder) onClaim(c claimDone) {
	f.claiming, f.claimIdle = false, false
	switch {
	case c.err != nil:
		f.log.Error("claim failed", "err", c.err)
		f.claimAfter = time.Now().Add(f.cfg.PollInterval)
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
