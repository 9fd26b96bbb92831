package dispatch

import "github.com/crawlmaster/crawlmaster/master/frontier"

// batch is a group of leased tasks sent to one slot in one Crawl call.
// It holds every leased URL of its domains, so a domain runs on one slot.
type batch struct {
	id    string
	tasks []frontier.Task
}

// readyQueue holds the batches leased for an assistant and waiting for an
// idle slot, so a freed slot is refilled from memory, never from a
// database round trip. It does no I/O.
type readyQueue struct {
	b    []*batch
	urls int
}

func (q *readyQueue) push(bs ...*batch) {
	for _, b := range bs {
		q.b = append(q.b, b)
		q.urls += len(b.tasks)
	}
}

// pop removes and returns the oldest batch, or nil.
func (q *readyQueue) pop() *batch {
	if len(q.b) == 0 {
		return nil
	}
	b := q.b[0]
	q.b[0] = nil
	q.b = q.b[1:]
	q.urls -= len(b.tasks)
	return b
}

// batches returns the number of batches waiting.
func (q *readyQueue) batches() int { return len(q.b) }

// clear empties the queue and returns the lease tokens it held.
func (q *readyQueue) clear() []int64 {
	var tokens []int64
	for _, b := range q.b {
		for _, t := range b.tasks {
			tokens = append(tokens, t.Token)
		}
	}
	q.b, q.urls = nil, 0
	return tokens
}

// dropUnowned removes the tasks whose shard is no longer ours (owners
// changed) and returns their tokens.
func (q *readyQueue) dropUnowned(owned func(shard int16) bool) []int64 {
	var drop []int64
	kept := q.b[:0]
	for _, b := range q.b {
		tasks := b.tasks[:0]
		for _, t := range b.tasks {
			if owned(t.Shard) {
				tasks = append(tasks, t)
			} else {
				drop = append(drop, t.Token)
			}
		}
		b.tasks = tasks
		if len(tasks) > 0 {
			kept = append(kept, b)
		}
	}
	clear(q.b[len(kept):])
	q.b = kept
	q.urls -= len(drop)
	return drop
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
	ready     int // URLs in the ready queue
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
// follow fill the prefetch while its batches run.
func claimSize(c claimNeed) int {
	pre := c.prefetch
	if pre <= 0 {
		pre = max(1, c.slots/2)
	}
	target := (c.free + pre) * c.batchSize
	want := target - c.ready
	if want < max(c.batchSize, target/4) {
		return 0
	}
	n := min(want, maxClaim)
	if c.ready == 0 && c.idle > 0 {
		n = min(n, max(firstClaim, 2*c.idle))
	}
	return n
}

// formBatches packs claimed tasks into batches of about target URLs (at
// most limit), keeping every domain's URLs in one batch so the domain is on
// one slot only. A domain with more than limit URLs keeps the first limit;
// the rest are returned as extra, to be released.
func formBatches(tasks []frontier.Task, target, limit int, newID func() string) (batches []*batch, extra []int64) {
	target = max(1, min(target, limit))
	var order []string
	groups := map[string][]frontier.Task{}
	for _, t := range tasks {
		g, seen := groups[t.Domain]
		if !seen {
			order = append(order, t.Domain)
		}
		if len(g) >= limit {
			extra = append(extra, t.Token)
			continue
		}
		groups[t.Domain] = append(g, t)
	}
	var cur *batch
	for _, dom := range order {
		g := groups[dom]
		if cur == nil || len(cur.tasks) >= target || len(cur.tasks)+len(g) > limit {
			cur = &batch{id: newID(), tasks: make([]frontier.Task, 0, min(limit, max(target, len(g))))}
			batches = append(batches, cur)
		}
		cur.tasks = append(cur.tasks, g...)
	}
	return batches, extra
}
