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
	f.claiming = false
	switch {
	case c.err != nil:
		f.log.Error("claim failed", "err", c.err)
		f.claimAfter = time.Now().Add(f.cfg.PollInterval)
		return
	case len(c.tasks) == 0:
		// Nothing due: ask again at the next poll, not in a tight loop.
		f.claimAfter = time.Now().Add(f.cfg.PollInterval)
		return
	case f.stopping || !f.live.owning():
		f.env.release(tokensOf(c.tasks), false, "claimed_while_unavailable")
		return
	}
	f.ready.add(time.Now(), c.tasks)
	// A claim may race with a change of owners.
	f.env.release(f.ready.dropUnowned(f.owned), false, "shard_moved")
}

func tokensOf(tasks []frontier.Task) []int64 {
	out := make([]int64, len(tasks))
	for i, t := range tasks {
		out[i] = t.Token
	}
	return out
}
