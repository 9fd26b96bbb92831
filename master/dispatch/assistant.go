package dispatch

import (
	"context"
	"errors"
	"fmt"
	"github.com/crawlmaster/crawlmaster/internal/wire"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// assistant is the master's view of one assistant. Everything below the
// event channel is owned by the loop goroutine.
type assistant struct {
	d       *Dispatcher
	id      string
	conn    *grpc.ClientConn
	client  pb.AssistantClient
	events  chan event
	ownerCh chan struct{}
	log     *slog.Logger
	status  atomic.Pointer[frontier.AssistantStatus]

	// Loop-owned state.
	up         bool
	failures   int       // failed polls in a row
	lastAlive  time.Time // when the last answered poll was sent
	draining   bool      // reported by the assistant
	stopping   bool      // the master is shutting down
	polling    bool
	polledOnce bool // the first poll has ended
	claiming   bool
	claimAfter time.Time // no claim before this (nothing was due)
	// suspectSince is set when a batch failed as if the assistant were
	// unreachable; nothing is dispatched to it until a poll sent after
	// that time succeeds. Without this, every freed slot would be refilled
	// at once and fail at once, burning through the ready queue.
	suspectSince time.Time
	slots        []slotState
	ready        []*batch
	readyURLs    int
	inflight     int
	inflightN    int // URLs in flight
	dispatched   int64
	// urlSeconds is a moving average of the wall time per URL of this
	// assistant's completed batches (0 until one completes): it sizes
	// batches to Config.BatchDuration.
	urlSeconds float64
	lastErr    string
	runCtx     context.Context
	runCancel  context.CancelCauseFunc
}

type slotState struct {
	busy       bool      // one of our batches runs on it
	remoteBusy bool      // the last poll said busy and nothing since proved it idle
	freedAt    time.Time // when our last batch on it ended
}

type batch struct {
	id    string
	tasks []frontier.Task
}

type event interface{}

type pollDone struct {
	sentAt time.Time
	resp   *pb.ReportIdleWorkerResponse
	err    error
}

type claimDone struct {
	tasks []frontier.Task
	err   error
}

type batchDone struct {
	slot      int
	b         *batch
	err       error
	suspect   bool // the failure suggests the assistant is unreachable
	results   int
	released  int
	stateN    map[frontier.State]int
	startedAt time.Time
}

func (a *assistant) loop(ctx context.Context, grace time.Duration) {
	a.runCtx, a.runCancel = context.WithCancelCause(context.Background())
	poll := time.NewTimer(0) // first poll at once
	defer poll.Stop()
	// down fires when no poll has been answered for down_after intervals.
	down := time.NewTimer(time.Hour)
	down.Stop()
	defer down.Stop()
	for !a.stopping {
		if a.up {
			down.Reset(time.Until(a.lastAlive.Add(a.downAfter())))
		}
		select {
		case <-ctx.Done():
			a.beginStop()
		case <-down.C:
			// An answered poll may be queued behind the timer: handle
			// pending events before judging.
			for len(a.events) > 0 {
				a.handle(<-a.events)
			}
			if a.up && time.Since(a.lastAlive) >= a.downAfter() {
				a.markDown(fmt.Errorf("no answer to ReportIdleWorker for %s (%d polls); last error: %s",
					time.Since(a.lastAlive).Round(time.Millisecond), a.failures, a.lastErr))
			}
		case <-poll.C:
			if !a.polling {
				a.polling = true
				go a.poll()
			}
			poll.Reset(jitter(a.d.cfg.PollInterval, 0.1))
		case ev := <-a.events:
			a.handle(ev)
		case <-a.ownerCh:
			a.dropUnowned()
		}
		a.fill()
		a.publish()
	}
	// Drain: wait for in-flight batches, cancelling them after grace.
	graceT := time.NewTimer(grace)
	defer graceT.Stop()
	abort := a.d.abort // set to nil once handled: a closed channel is always ready
	for a.inflight > 0 || a.claiming || a.polling {
		select {
		case ev := <-a.events:
			a.handle(ev)
		case <-graceT.C:
			if a.inflight > 0 {
				a.log.Warn("grace period over; cancelling in-flight batches", "batches", a.inflight, "urls", a.inflightN)
			}
			a.runCancel(errShutdown)
		case <-abort:
			abort = nil
			a.runCancel(errShutdown)
		}
		a.publish()
	}
	a.runCancel(errShutdown)
}

// beginStop stops claiming and dispatching and gives back the ready queue.
func (a *assistant) beginStop() {
	a.stopping = true
	a.releaseReady("shutdown")
	a.log.Info("draining assistant", "inflight_batches", a.inflight, "inflight_urls", a.inflightN)
}

func (a *assistant) handle(ev event) {
	switch ev := ev.(type) {
	case pollDone:
		a.onPoll(ev)
	case claimDone:
		a.onClaim(ev)
	case batchDone:
		a.onBatchDone(ev)
	}
}

func (a *assistant) poll() {
	ctx, cancel := context.WithTimeout(context.Background(), a.d.cfg.PollTimeout)
	defer cancel()
	sent := time.Now()
	resp, err := a.client.ReportIdleWorker(ctx, &pb.ReportIdleWorkerRequest{MasterId: a.d.cfg.MasterID})
	a.d.m.PollDuration.WithLabelValues(a.id).Observe(time.Since(sent).Seconds())
	a.events <- pollDone{sentAt: sent, resp: resp, err: err}
}

func (a *assistant) onPoll(p pollDone) {
	a.polling = false
	if !a.polledOnce {
		a.polledOnce = true
		// After setLive below, so the owner table includes this assistant
		// when the other loops are woken to claim.
		defer func() {
			if a.d.firstPolls.Add(-1) == 0 {
				a.d.notifyOwners()
			}
		}()
	}
	if p.err != nil {
		a.failures++
		a.lastErr = p.err.Error()
		a.d.m.PollFailures.WithLabelValues(a.id).Inc()
		if !a.up && a.failures == a.d.cfg.DownAfter {
			a.log.Warn("assistant unreachable", "failed_polls", a.failures, "err", p.err)
		}
		return
	}
	a.failures = 0
	if !a.suspectSince.IsZero() && p.sentAt.After(a.suspectSince) {
		a.suspectSince = time.Time{}
	}
	// Evidence of life as of when the poll was sent: the down timer counts
	// from there, so detection takes at most down_after intervals from the
	// moment the assistant stopped answering.
	a.lastAlive = p.sentAt
	a.lastErr = ""
	resp := p.resp
	if n := int(resp.GetTotalSlots()); n != len(a.slots) {
		slots := make([]slotState, n)
		copy(slots, a.slots)
		a.slots = slots
	}
	if resp.GetDraining() != a.draining {
		a.draining = resp.GetDraining()
		if a.draining {
			a.log.Info("assistant draining; sending it nothing new", "busy_batches", a.inflight)
		} else {
			a.log.Info("assistant no longer draining")
		}
	}
	idle := make(map[uint32]bool, len(resp.GetIdleSlots()))
	for _, s := range resp.GetIdleSlots() {
		idle[s] = true
	}
	for i := range a.slots {
		s := &a.slots[i]
		switch {
		case s.busy:
		case idle[uint32(i)]:
			s.remoteBusy = false
		case s.freedAt.Before(p.sentAt):
			// Busy on the assistant but not ours: a batch of a previous
			// master, or one we cancelled that is still winding down.
			s.remoteBusy = true
		}
	}
	if !a.up {
		a.up = true
		a.log.Info("assistant up", "slots", len(a.slots), "draining", a.draining)
		a.d.m.AssistantUp.WithLabelValues(a.id).Set(1)
	}
	// A draining assistant takes no new work, so its shards go to the
	// others at once instead of waiting for it to exit and be marked down.
	a.d.setLive(a.id, !a.draining, len(a.slots))
	if a.draining {
		a.releaseReady("assistant_draining")
	}
}

// downAfter is how long an assistant may leave polls unanswered.
func (a *assistant) downAfter() time.Duration {
	return time.Duration(a.d.cfg.DownAfter) * a.d.cfg.PollInterval
}

// markDown gives up on the assistant: its batches are cancelled (their
// unfinished URLs released by the batch goroutines), its ready queue is
// released and its shards move to the live assistants.
func (a *assistant) markDown(err error) {
	a.up = false
	a.log.Error("assistant down; releasing its leases", "failed_polls", a.failures,
		"inflight_urls", a.inflightN, "ready_urls", a.readyURLs, "err", err)
	a.d.m.AssistantUp.WithLabelValues(a.id).Set(0)
	a.runCancel(errAssistantDown)
	a.runCtx, a.runCancel = context.WithCancelCause(context.Background())
	// Whatever comes back (a restart, another machine) is measured afresh.
	a.urlSeconds = 0
	a.releaseReady("assistant_down")
	for i := range a.slots {
		a.slots[i].remoteBusy = true // unknown until it answers again
	}
	a.d.setLive(a.id, false, 0)
}

func (a *assistant) releaseReady(reason string) {
	if len(a.ready) == 0 {
		return
	}
	var tokens []int64
	for _, b := range a.ready {
		for _, t := range b.tasks {
			tokens = append(tokens, t.Token)
		}
	}
	a.ready, a.readyURLs = nil, 0
	a.d.release(tokens, false, reason)
}

// dropUnowned releases ready URLs whose shard moved to another assistant.
func (a *assistant) dropUnowned() {
	var drop []int64
	kept := a.ready[:0]
	for _, b := range a.ready {
		tasks := b.tasks[:0]
		for _, t := range b.tasks {
			if a.d.owns(a.id, t.Domain) {
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
	clear(a.ready[len(kept):])
	a.ready = kept
	a.readyURLs -= len(drop)
	a.d.release(drop, false, "shard_moved")
}

// target is how many URLs the ready queue should hold: enough for every
// slot that is not busy plus a prefetch, so a finishing slot is refilled
// from memory, never from a database round trip.
func (a *assistant) target() int {
	free := 0
	for _, s := range a.slots {
		if !s.busy {
			free++
		}
	}
	pre := a.d.cfg.PrefetchBatches
	if pre <= 0 {
		pre = max(1, len(a.slots)/2)
	}
	return (free + pre) * a.d.cfg.BatchSize
}

// fill sends ready batches to idle slots and tops up the ready queue.
func (a *assistant) fill() {
	if !a.up || a.draining || a.stopping || !a.suspectSince.IsZero() {
		return
	}
	now := time.Now()
	for i := range a.slots {
		if len(a.ready) == 0 {
			break
		}
		s := &a.slots[i]
		if s.busy || s.remoteBusy {
			continue
		}
		b := a.ready[0]
		a.ready[0] = nil
		a.ready = a.ready[1:]
		a.readyURLs -= len(b.tasks)
		if !s.freedAt.IsZero() {
			a.d.m.RefillLatency.Observe(now.Sub(s.freedAt).Seconds())
		}
		s.busy = true
		a.inflight++
		a.inflightN += len(b.tasks)
		a.d.inflight.Add(int64(len(b.tasks)))
		a.dispatched += int64(len(b.tasks))
		a.d.m.InFlightURLs.Add(float64(len(b.tasks)))
		a.d.m.BatchesDispatched.WithLabelValues(a.id).Inc()
		a.d.m.URLsDispatched.WithLabelValues(a.id).Add(float64(len(b.tasks)))
		a.log.Info("batch dispatched", "batch", b.id, "slot", i, "urls", len(b.tasks))
		go a.runBatch(a.runCtx, i, b, now)
	}
	// Claim once a quarter of the target is missing, not at every freed
	// batch: each claim is a transaction with a commit, and a few larger
	// claims cost the database much less than many small ones while the
	// remaining three quarters keep every slot fed.
	target := a.target()
	if want := target - a.readyURLs; !a.claiming && want >= max(a.d.cfg.BatchSize, target/4) && now.After(a.claimAfter) && a.d.firstPolls.Load() == 0 {
		a.claiming = true
		go a.claim(a.claimSize(want))
	}
}

// maxClaim caps one claim; firstClaim caps a claim that idle slots wait on.
const (
	maxClaim   = 5000
	firstClaim = 256
)

// claimSize is how many of the want URLs missing from the ready queue to
// claim now. When slots sit idle with nothing ready (the start of a crawl,
// after a lull) they wait on this claim: it is kept small, two URLs per
// idle slot but at least firstClaim, so it returns in a few milliseconds
// instead of the tens a full one takes, and the claims that follow fill
// the prefetch while its batches run.
func (a *assistant) claimSize(want int) int {
	n := min(want, maxClaim)
	if idle := a.idleSlots(); a.readyURLs == 0 && idle > 0 {
		n = min(n, max(firstClaim, 2*idle))
	}
	return n
}

// idleSlots counts the slots that could take a batch now.
func (a *assistant) idleSlots() int {
	n := 0
	for _, s := range a.slots {
		if !s.busy && !s.remoteBusy {
			n++
		}
	}
	return n
}

func (a *assistant) claim(n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shards := a.d.shardsOf(a.id)
	start := time.Now()
	tasks, err := a.d.store.Claim(ctx, frontier.Claim{Shards: shards, Limit: n, Lease: a.d.cfg.Lease, Assistant: a.id})
	a.d.m.ClaimDuration.Observe(time.Since(start).Seconds())
	if err == nil {
		a.d.held.add(tasks)
	}
	a.events <- claimDone{tasks: tasks, err: err}
}

func (a *assistant) onClaim(c claimDone) {
	a.claiming = false
	if c.err != nil {
		a.log.Error("claim failed", "err", c.err)
		a.claimAfter = time.Now().Add(a.d.cfg.PollInterval)
		return
	}
	if len(c.tasks) == 0 {
		// Nothing due: ask again at the next poll, not in a tight loop.
		a.claimAfter = time.Now().Add(a.d.cfg.PollInterval)
		return
	}
	if !a.up || a.stopping || a.draining {
		tokens := make([]int64, len(c.tasks))
		for i, t := range c.tasks {
			tokens[i] = t.Token
		}
		a.d.release(tokens, false, "claimed_while_unavailable")
		return
	}
	batches, extra := formBatches(c.tasks, a.batchTarget(len(c.tasks)), a.d.cfg.BatchSize, a.d.nextBatchID)
	a.d.release(extra, false, "domain_overflow")
	for _, b := range batches {
		a.ready = append(a.ready, b)
		a.readyURLs += len(b.tasks)
	}
	a.dropUnowned() // a claim may race with a change of owners
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

// batchTarget is the number of URLs to put in each batch formed from n
// claimed URLs. It is the batch size that takes about BatchDuration at
// this assistant's recent time per URL (at most BatchSize), and smaller
// still when work is scarce (the end of a crawl, a trickle of retries):
// the n URLs are then spread over the slots that will be free for them.
// Either way a few slow URLs never queue behind each other on one slot
// while other slots idle.
func (a *assistant) batchTarget(n int) int {
	size := a.d.cfg.BatchSize
	if d := a.d.cfg.BatchDuration; d > 0 && a.urlSeconds > 0 {
		size = min(size, max(1, int(d.Seconds()/a.urlSeconds)))
	}
	free := a.idleSlots() - len(a.ready)
	if free <= 0 {
		return size
	}
	return min(size, max(1, (n+free-1)/free))
}

// urlTimeWeight is the weight of one completed batch in urlSeconds: the
// average follows a change of sites within a few dozen batches. The time
// measured is the batch's wall time on its slot, politeness waits and
// result back-pressure included: a domain's URLs spaced by a crawl delay,
// or a database falling behind, give smaller batches too (more Crawl
// calls, each still holding whole domains), which costs little when the
// slots are waiting anyway.
const urlTimeWeight = 0.05

// observeURLTime folds a completed batch into urlSeconds.
func (a *assistant) observeURLTime(d time.Duration, urls int) {
	if urls <= 0 || d <= 0 {
		return
	}
	x := d.Seconds() / float64(urls)
	if a.urlSeconds == 0 {
		a.urlSeconds = x
		return
	}
	a.urlSeconds += urlTimeWeight * (x - a.urlSeconds)
}

func (a *assistant) onBatchDone(b batchDone) {
	if b.slot < len(a.slots) {
		s := &a.slots[b.slot]
		s.busy = false
		// After a failed batch the slot's state on the assistant is
		// unknown until a poll reports it.
		s.remoteBusy = b.err != nil
		s.freedAt = time.Now()
	}
	if b.suspect && a.suspectSince.IsZero() {
		a.suspectSince = time.Now()
		a.log.Warn("batch failed as if the assistant were unreachable; pausing dispatch to it until a poll succeeds", "err", b.err)
	}
	a.inflight--
	a.inflightN -= len(b.b.tasks)
	a.d.m.InFlightURLs.Sub(float64(len(b.b.tasks)))
	if a.d.inflight.Add(-int64(len(b.b.tasks))) == 0 {
		// The crawl is winding down or idle: nothing more will join the
		// writer's batch soon, so waiting out its flush interval would
		// only delay these results (up to 200 ms, 5% of a short crawl).
		a.d.sink.FlushNow()
	}
	dur := time.Since(b.startedAt)
	a.d.m.BatchDuration.Observe(dur.Seconds())
	attrs := []any{"batch", b.b.id, "slot", b.slot, "urls", len(b.b.tasks),
		"done", b.stateN[frontier.StateDone], "failed", b.stateN[frontier.StateFailed],
		"retry", b.stateN[frontier.StatePending], "dead", b.stateN[frontier.StateDead],
		"released", b.released, "duration", dur.Round(time.Millisecond)}
	if b.err != nil {
		a.d.m.BatchesFinished.WithLabelValues("error").Inc()
		a.log.Warn("batch finished", append(attrs, "err", b.err)...)
		return
	}
	a.d.m.BatchesFinished.WithLabelValues("ok").Inc()
	a.observeURLTime(dur, b.results)
	a.log.Info("batch finished", attrs...)
}

// runBatch streams one batch to a slot and forwards its results. It owns
// the batch's leases until each has a result or is released.
func (a *assistant) runBatch(ctx context.Context, slot int, b *batch, started time.Time) {
	req := &pb.CrawlRequest{BatchId: b.id, Slot: uint32(slot), SendBodyCap: a.d.cfg.SendBodyCap,
		Tasks: make([]*pb.CrawlTask, len(b.tasks))}
	for i, t := range b.tasks {
		req.Tasks[i] = &pb.CrawlTask{UrlId: t.URLID, LeaseToken: t.Token, Url: t.URL}
	}
	done := make([]bool, len(b.tasks))
	var uncharged []int64 // results the assistant gave back unfetched (cancelled)
	res := batchDone{slot: slot, b: b, startedAt: started, stateN: map[frontier.State]int{}}
	stream, err := a.client.Crawl(ctx, req)
	for err == nil {
		var r *pb.CrawlResult
		r, err = stream.Recv()
		if err != nil {
			break
		}
		i := indexOf(b.tasks, r.GetLeaseToken())
		if i < 0 || done[i] || r.GetUrlId() != b.tasks[i].URLID {
			a.d.m.UnexpectedResults.Inc()
			continue
		}
		done[i] = true
		out, ok := a.d.outcome(a.id, b.tasks[i], r)
		if !ok {
			uncharged = append(uncharged, b.tasks[i].Token)
			continue
		}
		// Submit blocks while the writer is full (backpressure). The batch
		// context bounds the wait: past the shutdown grace, or once the
		// assistant is given up, the URL is released and crawled again.
		if serr := a.d.sink.Submit(ctx, out); serr != nil {
			done[i] = false
			err = serr
			break
		}
		a.d.held.remove(b.tasks[i].Token)
		res.results++
		res.stateN[out.State]++
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	var unfinished []int64
	for i, t := range b.tasks {
		if !done[i] {
			unfinished = append(unfinished, t.Token)
		}
	}
	if len(unfinished) > 0 {
		// A broken stream or a lost assistant costs the URL an attempt (a
		// page that kills assistants must not loop forever); our own
		// shutdown and a batch the assistant refused do not.
		cause := context.Cause(ctx)
		charge, reason := true, "stream_error"
		switch {
		case errors.Is(cause, errShutdown):
			charge, reason = false, "shutdown"
		case errors.Is(cause, errAssistantDown):
			reason = "assistant_down"
		case err == nil:
			reason = "missing_result"
			err = errors.New("stream ended without a result for every URL")
		case res.results == 0 && len(uncharged) == 0 && refused(err):
			charge, reason = false, "refused"
		}
		a.d.release(unfinished, charge, reason)
	}
	res.suspect = err != nil && ctx.Err() == nil && status.Code(err) == codes.Unavailable
	a.d.release(uncharged, false, "fetch_cancelled")
	res.released = len(unfinished) + len(uncharged)
	res.err = err
	a.events <- res
}

// refused reports whether a Crawl error is the assistant turning the batch
// down before fetching anything (see the proto: slot busy or unknown,
// invalid batch, draining), rather than a failure during the batch.
func refused(err error) bool {
	_, ok := wire.RefusalOf(err)
	return ok
}

func indexOf(tasks []frontier.Task, token int64) int {
	for i := range tasks {
		if tasks[i].Token == token {
			return i
		}
	}
	return -1
}

func (a *assistant) publish() {
	busy := 0
	for _, s := range a.slots {
		if s.busy {
			busy++
		}
	}
	idle := 0
	if a.up && !a.draining {
		for _, s := range a.slots {
			if !s.busy && !s.remoteBusy {
				idle++
			}
		}
	}
	a.d.m.IdleSlots.WithLabelValues(a.id).Set(float64(idle))
	a.d.m.ReadyURLs.WithLabelValues(a.id).Set(float64(a.readyURLs))
	a.status.Store(&frontier.AssistantStatus{ID: a.id, Up: a.up, Draining: a.draining, Slots: len(a.slots),
		Busy: busy, InFlight: a.inflightN, Dispatched: a.dispatched, LastError: a.lastErr})
}
