package dispatch

import (
	"context"
	"sync"

	"github.com/crawlmaster/crawlmaster/internal/backoff"
	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// heldSet is the set of lease tokens the master holds (ready or in
// flight) and has not yet resolved; the renewer keeps them alive.
type heldSet struct {
	mu sync.Mutex
	m  map[int64]struct{}
}

func (h *heldSet) init() { h.m = map[int64]struct{}{} }

func (h *heldSet) add(tasks []frontier.Task) {
	h.mu.Lock()
	for _, t := range tasks {
		h.m[t.Token] = struct{}{}
	}
	h.mu.Unlock()
}

func (h *heldSet) remove(tokens ...int64) {
	h.mu.Lock()
	for _, t := range tokens {
		delete(h.m, t)
	}
	h.mu.Unlock()
}

func (h *heldSet) snapshot() []int64 {
	h.mu.Lock()
	out := make([]int64, 0, len(h.m))
	for t := range h.m {
		out = append(out, t)
	}
	h.mu.Unlock()
	return out
}

// renewLoop extends every held lease well before it expires (every third
// of the lease, jittered), so slow batches are not rescued from under the
// master.
func (d *Dispatcher) renewLoop(ctx context.Context) {
	interval := d.cfg.Lease / 3
	for backoff.Sleep(ctx, backoff.Jitter(interval, 0.1)) == nil {
		tokens := d.held.snapshot()
		for len(tokens) > 0 {
			n := min(len(tokens), 5000)
			if _, err := d.store.Renew(ctx, tokens[:n], d.cfg.Lease); err != nil && ctx.Err() == nil {
				d.log.Warn("renew leases", "urls", n, "err", err)
			}
			tokens = tokens[n:]
		}
	}
}
