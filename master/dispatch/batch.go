package dispatch

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/crawlmaster/crawlmaster/master/admit"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// batchDone reports the end of a batch's stream to its feeder.
type batchDone struct {
	slot      int
	b         *batch
	end       streamEnd
	refusal   pb.RefusalReason
	err       error
	pause     bool // stop dispatching until a poll is answered
	stored    int
	deferredN int // tasks given back DEFERRED
	released  int
	charged   int
	stateN    map[frontier.State]int
	startedAt time.Time
	// after is, per site of the batch, the wait the assistant reported
	// for its next request to that site (the last result's
	// next_request_after); a site without a result is absent.
	after map[string]time.Duration
	// sitesDone are the sites already handed back by a siteDone event.
	sitesDone map[string]bool
	// deferred are the tasks given back DEFERRED, by site, of the sites
	// not handed back by a siteDone event: the feeder takes them back.
	deferred map[string][]frontier.Task
}

// siteDone reports that every task of one site in a running batch has
// its result. The site may go into another batch once after has passed
// from at: its wait counts from its own last result, not from the end of
// the batch, whose other sites can take longer than the wait (a batch of
// sixteen sites at 100 ms each would stretch a 1 s delay to 1.6 s).
type siteDone struct {
	site  string
	at    time.Time
	after time.Duration
	// deferred are the site's tasks the assistant gave back DEFERRED (its
	// host was not ready within max_politeness_wait): they keep their
	// leases and go back into the ready queue, ahead of the site's others.
	deferred []frontier.Task
}

var errMissingResults = errors.New("stream ended without a result for every URL")

// runBatch streams one batch to a slot and hands its results to the
// writer. It owns the batch's leases until each is stored or released:
// when the stream ends, planRelease decides which tasks go back to
// pending and which of those cost an attempt.
func (f *feeder) runBatch(ctx context.Context, slot int, b *batch, started time.Time) {
	req := &pb.CrawlRequest{BatchId: b.id, Slot: uint32(slot), MasterId: f.cfg.MasterID,
		SendBodyCap: f.cfg.SendBodyCap, Tasks: make([]*pb.CrawlTask, len(b.tasks))}
	if f.cfg.MaxSlotWait > 0 {
		req.MaxPolitenessWait = durationpb.New(f.cfg.MaxSlotWait)
	}
	pols := make([]*admit.Policy, len(b.tasks))
	sitemaps := map[int]uint64{} // task index → its host's key, for the tasks asked to read sitemaps
	for i, t := range b.tasks {
		pols[i] = f.env.policy(t.CrawlID)
		fp := fetchPolicy(pols[i], t)
		if fp.GetSitemaps() {
			key, ok := f.sitemaps.ask(t.CrawlID, t.URL)
			fp.Sitemaps = ok
			if ok {
				sitemaps[i] = key
			}
		}
		req.Tasks[i] = &pb.CrawlTask{UrlId: t.URLID, LeaseToken: t.Token, Url: t.URL, Policy: fp, Validators: validators(t)}
	}
	read := map[int]bool{}
	defer func() {
		for i, key := range sitemaps {
			f.sitemaps.done(key, read[i])
		}
	}()
	var refused admit.Refused
	defer f.env.refused(&refused)
	states := make([]taskState, len(b.tasks))
	res := batchDone{slot: slot, b: b, startedAt: started, stateN: map[frontier.State]int{}, after: map[string]time.Duration{},
		sitesDone: map[string]bool{}, deferred: map[string][]frontier.Task{}}
	stream, err := f.client.Crawl(ctx, req)
	next := 0 // results come in batch order: look there first
	for err == nil {
		var r *pb.CrawlResult
		if r, err = stream.Recv(); err != nil {
			break
		}
		i := taskIndex(b.tasks, next, r)
		if i < 0 || states[i] > taskStarted {
			f.m.UnexpectedResults.Inc()
			continue
		}
		next = i
		switch r.GetDisposition() {
		case pb.Disposition_DISPOSITION_STARTED:
			states[i] = taskStarted
			continue
		case pb.Disposition_DISPOSITION_UNFETCHED:
			states[i] = taskUnfetched
			continue
		case pb.Disposition_DISPOSITION_DEFERRED:
			states[i] = taskDeferred
			site := b.tasks[i].Domain
			res.after[site] = r.GetNextRequestAfter().AsDuration()
			f.noteSite(site, res.after[site])
			res.deferred[site] = append(res.deferred[site], b.tasks[i])
			f.m.Deferred.Inc()
			res.deferredN++
			f.siteAnswered(&res, states, i)
			continue
		}
		res.after[b.tasks[i].Domain] = r.GetNextRequestAfter().AsDuration()
		// Before the outcome goes to the writer: once it is written the
		// lease is gone and another feeder may claim the site.
		f.noteSite(b.tasks[i].Domain, res.after[b.tasks[i].Domain])
		read[i] = r.GetSitemapsRead()
		out := decide(f.cfg, f.id, b.tasks[i], r, pols[i], &refused, time.Now(), rand.Float64())
		// Submit blocks while the writer is full (back-pressure). The
		// batch context bounds the wait: past the shutdown grace, or once
		// the assistant is given up, the task is released instead.
		if serr := f.env.submit(ctx, out); serr != nil {
			states[i] = taskLost
			err = serr
			break
		}
		states[i] = taskStored
		res.stored++
		res.stateN[out.State]++
		if key, asked := sitemaps[i]; asked {
			// Settled now, not at the end of the batch: the site may be
			// in another batch before this one ends (siteDone), and that
			// batch must see whether this host's sitemaps were read.
			f.sitemaps.done(key, read[i])
			delete(sitemaps, i)
		}
		f.siteAnswered(&res, states, i)
	}
	res.end, res.refusal = classifyEnd(err, context.Cause(ctx))
	for _, g := range planRelease(res.end, states) {
		tokens := make([]int64, len(g.tasks))
		for k, i := range g.tasks {
			tokens[k] = b.tasks[i].Token
		}
		f.env.release(tokens, g.charge, g.reason)
		res.released += len(tokens)
		if g.charge {
			res.charged += len(tokens)
		}
	}
	res.pause = ctx.Err() == nil && pauseAfter(res.end, res.refusal, err)
	if res.end == endCompleted {
		err = nil
		if res.released > 0 {
			err = errMissingResults
		}
	}
	res.err = err
	f.events <- res
}

// takeBack returns tasks the assistant deferred to the ready queue, still
// leased: their site's wait (siteDone) decides when they go out again.
// Tasks this feeder can no longer send (it is stopping, the assistant is
// down or draining, or their shard moved) are released uncharged instead.
func (f *feeder) takeBack(tasks []frontier.Task) {
	var keep []frontier.Task
	var drop []int64
	for _, t := range tasks {
		if f.stopping || !f.live.owning() || !f.owned(t.Shard) {
			drop = append(drop, t.Token)
		} else {
			keep = append(keep, t)
		}
	}
	if len(drop) > 0 {
		f.env.release(drop, false, "deferred")
	}
	f.ready.requeue(keep)
}

// noteSite records, for whichever feeder owns site next, that it must
// wait after from now (nothing when it need not wait).
func (f *feeder) noteSite(site string, after time.Duration) {
	if after > 0 {
		f.env.noteSite(site, time.Now().Add(after))
	}
}

// siteAnswered hands task i's site back to the feeder (siteDone) when
// every task of the site in the batch is answered and the assistant said
// the site must wait before its next request: that wait then counts from
// this result, not from the end of the batch. A site without a wait is
// handed back with the batch (onBatchDone): an event per result woke the
// feeder's loop for every page of a broad crawl, for nothing (CPU-bound
// home pages: 4-5% of the throughput, ~6 µs per page in each assistant
// and ~5 in the master, on a machine whose two cores everything shares).
func (f *feeder) siteAnswered(res *batchDone, states []taskState, i int) {
	site := res.b.tasks[i].Domain
	if res.after[site] <= 0 {
		return
	}
	if siteAnswered(res.b.tasks, states, i) {
		res.sitesDone[site] = true
		f.events <- siteDone{site: site, at: time.Now(), after: res.after[site], deferred: res.deferred[site]}
		delete(res.deferred, site)
	}
}

// siteAnswered reports whether task i is its site's last in the batch
// (a site's tasks are adjacent) and every task of the site has its result
// stored or was deferred.
func siteAnswered(tasks []frontier.Task, states []taskState, i int) bool {
	site := tasks[i].Domain
	if i+1 < len(tasks) && tasks[i+1].Domain == site {
		return false
	}
	for k := i; k >= 0 && tasks[k].Domain == site; k-- {
		if states[k] != taskStored && states[k] != taskDeferred {
			return false
		}
	}
	return true
}

// taskIndex finds the task a message is about, trying hint first; -1
// when it is none of the batch's (wrong token, or token and URL id
// disagree).
func taskIndex(tasks []frontier.Task, hint int, r *pb.CrawlResult) int {
	tok := r.GetLeaseToken()
	i := -1
	if hint < len(tasks) && tasks[hint].Token == tok {
		i = hint
	} else {
		for k := range tasks {
			if tasks[k].Token == tok {
				i = k
				break
			}
		}
	}
	if i >= 0 && tasks[i].URLID != r.GetUrlId() {
		return -1
	}
	return i
}

// onBatchDone frees the slot, accounts for the batch and logs its line.
func (f *feeder) onBatchDone(b batchDone) {
	now := time.Now()
	f.slots.end(b.slot, now, b.err == nil)
	for i, t := range b.b.tasks {
		if i > 0 && b.b.tasks[i-1].Domain == t.Domain || b.sitesDone[t.Domain] {
			continue // a site's tasks are adjacent in its batch; or it was handed back already
		}
		after, ok := b.after[t.Domain]
		if !ok {
			after = -1 // no result: keep the site's last known wait
		}
		f.takeBack(b.deferred[t.Domain])
		f.ready.done(now, t.Domain, after)
	}
	if b.pause && f.live.pause(now) {
		f.log.Warn("batch failed as if the assistant were unreachable or draining; pausing dispatch to it until a poll succeeds",
			"err", b.err)
	}
	f.running--
	f.runningN -= len(b.b.tasks)
	f.env.inflight(-len(b.b.tasks))
	f.m.InFlightURLs.Sub(float64(len(b.b.tasks)))
	dur := now.Sub(b.startedAt)
	f.m.BatchDuration.Observe(dur.Seconds())
	attrs := []any{"batch", b.b.id, "slot", b.slot, "urls", len(b.b.tasks),
		"done", b.stateN[frontier.StateDone], "failed", b.stateN[frontier.StateFailed],
		"retry", b.stateN[frontier.StatePending], "dead", b.stateN[frontier.StateDead],
		"released", b.released, "charged", b.charged, "deferred", b.deferredN, "duration", dur.Round(time.Millisecond)}
	switch {
	case b.end == endRefused && b.refusal == pb.RefusalReason_REFUSAL_REASON_BAD_BATCH:
		f.m.BatchesFinished.WithLabelValues("refused").Inc()
		f.log.Error("batch finished", append(attrs, "refused", refusalRules[b.refusal].name, "err", b.err)...)
	case b.end == endRefused:
		f.m.BatchesFinished.WithLabelValues("refused").Inc()
		f.log.Warn("batch finished", append(attrs, "refused", refusalRules[b.refusal].name, "err", b.err)...)
	case b.err != nil:
		f.m.BatchesFinished.WithLabelValues("error").Inc()
		f.log.Warn("batch finished", append(attrs, "err", b.err)...)
	default:
		f.m.BatchesFinished.WithLabelValues("ok").Inc()
		f.sizer.observe(dur, b.stored)
		f.log.Info("batch finished", attrs...)
	}
}
