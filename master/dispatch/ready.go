package dispatch

import (
	"container/heap"
	"time"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// batch is a group of leased tasks sent to one slot in one Crawl call.
type batch struct {
	id    string
	tasks []frontier.Task
}

// readyQueue holds the URLs leased for an assistant until a slot takes
// them, grouped by site (frontier.Task.Domain), and decides which sites a
// batch may hold now. It does no I/O and reads no clock: callers pass now.
//
// Politeness is planned here rather than slept on by a slot. A site is in
// at most one running batch (never in flight twice), and after its batch
// ends it waits as long as the assistant said its next request to the site
// must wait (next_request_after: the delay, a Crawl-delay, a 429/503
// backoff). A site with such a wait gives one URL per batch, so a batch
// holds URLs of many sites that are all ready and the slot fetches them
// one after another without sleeping; a site without one gives as many
// URLs as fit, keeping its robots.txt and connection warm on one slot.
type readyQueue struct {
	spacing0 time.Duration // assumed wait of a site not heard from yet
	// notBefore, when set, gives a site new to this queue the earliest
	// time it may go out (another feeder ran it last: siteClock).
	notBefore func(site string) time.Time
	sites     map[string]*site // every site with URLs queued, running, or a wait still pending
	ready     []*site          // sites that can go into a batch now, in the order they became ready
	waiting   siteHeap         // sites with URLs whose wait has not passed, soonest first
	urls      int              // URLs queued (not in a running batch)
	readyN    int              // URLs of the sites in ready
}

// site is one site's queue.
type site struct {
	name    string
	tasks   []frontier.Task
	readyAt time.Time     // no batch with this site before
	spacing time.Duration // the wait after its last batch; > 0: one URL per batch
	running bool          // in a batch now
	index   int           // in waiting; -1 when not there
	inReady bool
}

func newReadyQueue(spacing0 time.Duration) readyQueue {
	return readyQueue{spacing0: spacing0, sites: map[string]*site{}}
}

// add queues claimed tasks, in claim order, by site.
func (q *readyQueue) add(now time.Time, tasks []frontier.Task) {
	for _, t := range tasks {
		s := q.sites[t.Domain]
		if s == nil {
			s = &site{name: t.Domain, spacing: q.spacing0, index: -1}
			if q.notBefore != nil {
				s.readyAt = q.notBefore(t.Domain)
			}
			q.sites[t.Domain] = s
		}
		s.tasks = append(s.tasks, t)
		q.urls++
		if s.inReady {
			q.readyN++
		}
		if !s.running {
			q.place(now, s)
		}
	}
}

// requeue puts tasks of running sites back at the head of their sites'
// queues (deferred by the assistant: their host was not ready). The
// site's done places it.
func (q *readyQueue) requeue(tasks []frontier.Task) {
	for i := len(tasks) - 1; i >= 0; i-- { // prepending in reverse keeps their order
		t := tasks[i]
		s := q.sites[t.Domain]
		if s == nil {
			s = &site{name: t.Domain, spacing: q.spacing0, index: -1, running: true}
			q.sites[t.Domain] = s
		}
		s.tasks = append([]frontier.Task{t}, s.tasks...)
		q.urls++
		if s.inReady {
			q.readyN++
		}
	}
}

// place puts an idle site with tasks in ready or waiting.
func (q *readyQueue) place(now time.Time, s *site) {
	if s.inReady || s.index >= 0 || len(s.tasks) == 0 {
		return
	}
	if s.readyAt.After(now) {
		heap.Push(&q.waiting, s)
		return
	}
	s.inReady = true
	q.ready = append(q.ready, s)
	q.readyN += len(s.tasks)
}

// promote moves the sites whose wait has passed to ready.
func (q *readyQueue) promote(now time.Time) {
	for len(q.waiting) > 0 && !q.waiting[0].readyAt.After(now) {
		s := heap.Pop(&q.waiting).(*site)
		q.place(now, s)
	}
}

// next is when the soonest waiting site becomes ready (zero: none waits).
func (q *readyQueue) next() time.Time {
	if len(q.waiting) == 0 {
		return time.Time{}
	}
	return q.waiting[0].readyAt
}

// take forms one batch of about target URLs (at most limit) from the
// sites ready at now, marks those sites running and returns the tasks
// (nil when no site is ready).
func (q *readyQueue) take(now time.Time, target, limit int) []frontier.Task {
	q.promote(now)
	target = max(1, min(target, limit))
	var out []frontier.Task
	kept := q.ready[:0]
	for i, s := range q.ready {
		if len(out) >= target {
			kept = append(kept, q.ready[i:]...)
			break
		}
		n := len(s.tasks)
		if s.spacing > 0 {
			n = 1
		}
		n = min(n, limit-len(out))
		if n == 0 { // a site's URLs stay together when its spacing allows
			kept = append(kept, s)
			continue
		}
		out = append(out, s.tasks[:n]...)
		s.tasks = s.tasks[n:]
		q.urls -= n
		q.readyN -= n + len(s.tasks) // the rest leaves ready with the site
		s.running, s.inReady = true, false
	}
	clear(q.ready[len(kept):])
	q.ready = kept
	return out
}

// done records the end of the batch holding site name: the site may be in
// another batch once after has passed (negative: as long as its last
// wait).
func (q *readyQueue) done(now time.Time, name string, after time.Duration) {
	s := q.sites[name]
	if s == nil {
		return
	}
	s.running = false
	if after >= 0 {
		s.spacing = after
	}
	s.readyAt = now.Add(s.spacing)
	if len(s.tasks) == 0 && !s.readyAt.After(now) {
		delete(q.sites, name)
		return
	}
	q.place(now, s)
}

// forget drops sites with nothing queued or running whose wait has passed,
// keeping memory proportional to the sites in play.
func (q *readyQueue) forget(now time.Time) {
	for name, s := range q.sites {
		if len(s.tasks) == 0 && !s.running && !s.readyAt.After(now) {
			delete(q.sites, name)
		}
	}
}

// clear empties the queue and returns the lease tokens it held. Running
// sites stay known (their batches are still out).
func (q *readyQueue) clear() []int64 {
	var tokens []int64
	for name, s := range q.sites {
		for _, t := range s.tasks {
			tokens = append(tokens, t.Token)
		}
		s.tasks, s.inReady, s.index = nil, false, -1
		if !s.running {
			delete(q.sites, name)
		}
	}
	q.ready, q.waiting, q.urls, q.readyN = nil, nil, 0, 0
	return tokens
}

// dropUnowned removes the tasks whose shard is no longer ours (owners
// changed) and returns their tokens.
func (q *readyQueue) dropUnowned(owned func(shard int16) bool) []int64 {
	var drop []int64
	for _, s := range q.sites {
		kept := s.tasks[:0]
		for _, t := range s.tasks {
			if owned(t.Shard) {
				kept = append(kept, t)
			} else {
				drop = append(drop, t.Token)
			}
		}
		clear(s.tasks[len(kept):])
		s.tasks = kept
	}
	if len(drop) > 0 {
		q.rebuild()
	}
	return drop
}

// rebuild recomputes ready, waiting and the counts after tasks were
// removed from sites.
func (q *readyQueue) rebuild() {
	var ready []*site
	q.waiting, q.urls, q.readyN = q.waiting[:0], 0, 0
	for _, s := range q.ready {
		if len(s.tasks) > 0 {
			ready = append(ready, s)
			q.readyN += len(s.tasks)
		} else {
			s.inReady = false
		}
	}
	q.ready = ready
	for _, s := range q.sites {
		q.urls += len(s.tasks)
		if !s.inReady && !s.running && len(s.tasks) > 0 {
			s.index = len(q.waiting)
			q.waiting = append(q.waiting, s)
		} else if !s.inReady {
			s.index = -1
		}
	}
	heap.Init(&q.waiting)
}

// siteHeap orders waiting sites by readyAt (container/heap).
type siteHeap []*site

func (h siteHeap) Len() int           { return len(h) }
func (h siteHeap) Less(i, j int) bool { return h[i].readyAt.Before(h[j].readyAt) }
func (h siteHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *siteHeap) Push(x any) {
	s := x.(*site)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *siteHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	s.index = -1
	return s
}
