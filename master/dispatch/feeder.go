package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/backoff"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// feeder keeps one assistant's slots fed. Its state (the value types
// liveness, slotTable, readyQueue, batchSizer) is owned by its loop
// goroutine; the goroutines it starts (one poll at a time, one claim at a
// time, one per running batch) report back through its event channel, so
// that state needs no lock.
type feeder struct {
	id     string
	client pb.AssistantClient
	env    env
	cfg    *Config
	m      *Metrics
	log    *slog.Logger
	events chan event
	wake   chan struct{} // shard owners changed
	wrote  chan struct{} // the writer stored results (resultsWritten)
	status atomic.Pointer[frontier.AssistantStatus]
	// sitemaps is the dispatcher's record of hosts whose sitemaps are
	// read (nil in tests of the loop: every seed asks).
	sitemaps *sitemapHosts

	// Loop-owned.
	live       liveness
	slots      slotTable
	ready      readyQueue
	sizer      batchSizer
	stopping   bool // the master is shutting down
	polling    bool
	claiming   bool
	claimAfter time.Time // no claim before this (nothing was due, or it failed)
	claimIdle  bool      // the last claim found nothing: a write ends its wait
	orphans    bool      // the last claim failed: the next releases its leases we do not hold
	wroteNow   bool      // a write was reported while the claim in flight ran
	running    int       // batches in flight
	runningN   int       // URLs in flight
	dispatched int64
	runCtx     context.Context // parent of the running batches' contexts
	runCancel  context.CancelCauseFunc
}

type event any

type pollDone struct {
	sentAt time.Time
	resp   *pb.ReportIdleWorkerResponse
	err    error
}

type claimDone struct {
	tasks []frontier.Task
	err   error
}

func newFeeder(id string, client pb.AssistantClient, e env, cfg *Config, m *Metrics, log *slog.Logger) *feeder {
	f := &feeder{id: id, client: client, env: e, cfg: cfg, m: m, log: log,
		events: make(chan event, 256), wake: make(chan struct{}, 1), wrote: make(chan struct{}, 1), ready: newReadyQueue(cfg.SiteSpacing),
		live:  liveness{downAfter: time.Duration(cfg.DownAfter) * cfg.PollInterval},
		sizer: batchSizer{size: cfg.BatchSize, duration: cfg.BatchDuration}}
	f.ready.notBefore = e.siteNotBefore
	f.runCtx, f.runCancel = context.WithCancelCause(context.Background())
	f.status.Store(&frontier.AssistantStatus{ID: id})
	m.AssistantUp.WithLabelValues(id).Set(0)
	return f
}

// notify wakes the loop to drop ready URLs it no longer owns and to fill
// its slots. It never blocks.
func (f *feeder) notify() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// run is the loop. When ctx is done it stops claiming and dispatching,
// releases the ready queue uncharged and waits for the running batches,
// cancelling them once grace has passed or abort is closed. It returns
// when nothing it started is still running.
func (f *feeder) run(ctx context.Context, grace time.Duration, abort <-chan struct{}) {
	poll := time.NewTimer(0) // the first poll at once
	defer poll.Stop()
	down := time.NewTimer(time.Hour) // fires when no poll was answered for down_after
	down.Stop()
	defer down.Stop()
	polite := time.NewTimer(time.Hour) // fires when the soonest site waiting on politeness is ready
	polite.Stop()
	defer polite.Stop()
	for !f.stopping {
		if by := f.live.downBy(); !by.IsZero() {
			down.Reset(time.Until(by))
		}
		if at := f.ready.next(); !at.IsZero() {
			polite.Reset(time.Until(at))
		} else {
			polite.Stop()
		}
		select {
		case <-polite.C: // fill below dispatches the sites now ready
		case <-ctx.Done():
			f.beginStop()
		case <-down.C:
			// An answered poll may be queued behind the timer: handle
			// pending events before judging.
			for len(f.events) > 0 {
				f.handle(<-f.events)
			}
			if f.live.overdue(time.Now()) {
				f.markDown(fmt.Errorf("no answer to ReportIdleWorker for %s (%d polls); last error: %s",
					time.Since(f.live.lastAlive).Round(time.Millisecond), f.live.failures, f.live.lastErr))
			}
		case <-poll.C:
			if !f.polling {
				f.polling = true
				go f.poll()
			}
			poll.Reset(backoff.Jitter(f.cfg.PollInterval, 0.1))
		case ev := <-f.events:
			f.handle(ev)
		case <-f.wake:
			f.env.release(f.ready.dropUnowned(f.owned), false, "shard_moved")
		case <-f.wrote:
			f.onWritten()
		}
		f.fill()
		f.publish()
	}
	graceT := time.NewTimer(grace)
	defer graceT.Stop()
	for f.running > 0 || f.claiming || f.polling {
		select {
		case ev := <-f.events:
			f.handle(ev)
		case <-graceT.C:
			if f.running > 0 {
				f.log.Warn("grace period over; cancelling in-flight batches", "batches", f.running, "urls", f.runningN)
			}
			f.runCancel(errShutdown)
		case <-abort:
			abort = nil // a closed channel is always ready
			f.runCancel(errShutdown)
		}
		f.publish()
	}
	f.runCancel(errShutdown)
}

func (f *feeder) owned(shard int16) bool { return f.env.owns(f.id, shard) }

// beginStop stops claiming and dispatching and gives back the ready queue.
func (f *feeder) beginStop() {
	f.stopping = true
	f.env.release(f.ready.clear(), false, "shutdown")
	f.log.Info("draining assistant", "inflight_batches", f.running, "inflight_urls", f.runningN)
}

func (f *feeder) handle(ev event) {
	switch ev := ev.(type) {
	case pollDone:
		f.onPoll(ev)
	case claimDone:
		f.onClaim(ev)
	case batchDone:
		f.onBatchDone(ev)
	case siteDone:
		f.takeBack(ev.deferred)
		f.ready.done(ev.at, ev.site, ev.after)
	}
}

func (f *feeder) poll() {
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.PollTimeout)
	defer cancel()
	sent := time.Now()
	resp, err := f.client.ReportIdleWorker(ctx, &pb.ReportIdleWorkerRequest{MasterId: f.cfg.MasterID})
	f.m.PollDuration.WithLabelValues(f.id).Observe(time.Since(sent).Seconds())
	f.events <- pollDone{sentAt: sent, resp: resp, err: err}
}

func (f *feeder) onPoll(p pollDone) {
	f.polling = false
	f.ready.forget(time.Now())
	if !f.live.polledOnce {
		// After setLive below, so the owner table includes this assistant
		// when the other feeders are woken to claim.
		defer f.env.firstPollEnded(f.id)
	}
	if p.err != nil {
		f.m.PollFailures.WithLabelValues(f.id).Inc()
		if f.live.pollFailed(p.err, f.cfg.DownAfter) {
			f.log.Warn("assistant unreachable", "failed_polls", f.live.failures, "err", p.err)
		}
		return
	}
	r := slotReport{sentAt: p.sentAt, total: int(p.resp.GetTotalSlots()),
		idle: make(map[int]bool, len(p.resp.GetIdleSlots())), busy: make(map[int]string, len(p.resp.GetBusy()))}
	for _, s := range p.resp.GetIdleSlots() {
		r.idle[int(s)] = true
	}
	for _, b := range p.resp.GetBusy() {
		r.busy[int(b.GetSlot())] = b.GetBatchId()
	}
	if n := f.slots.reconcile(r); n > 0 {
		f.log.Info("slots busy with batches this master did not send; waiting for them", "slots", n)
	}
	cameUp, drainChanged := f.live.pollAnswered(p.sentAt, p.resp.GetDraining())
	if drainChanged && f.live.draining {
		f.log.Info("assistant draining; sending it nothing new", "busy_batches", f.running)
	} else if drainChanged {
		f.log.Info("assistant no longer draining")
	}
	if cameUp {
		f.log.Info("assistant up", "slots", f.slots.len(), "draining", f.live.draining)
		f.m.AssistantUp.WithLabelValues(f.id).Set(1)
	}
	f.env.setLive(f.id, f.live.owning(), f.slots.len())
	if f.live.draining {
		f.env.release(f.ready.clear(), false, "assistant_draining")
	}
}

// markDown gives up on the assistant: its batches are cancelled (their
// tasks released by the batch goroutines), its ready queue is released
// and its shards move to the live assistants.
func (f *feeder) markDown(err error) {
	f.log.Error("assistant down; releasing its leases", "failed_polls", f.live.failures,
		"inflight_urls", f.runningN, "ready_urls", f.ready.urls, "err", err)
	f.live.markDown()
	f.m.AssistantUp.WithLabelValues(f.id).Set(0)
	f.runCancel(errAssistantDown)
	f.runCtx, f.runCancel = context.WithCancelCause(context.Background())
	f.sizer.reset()
	f.env.release(f.ready.clear(), false, "assistant_down")
	f.slots.unknown()
	f.env.setLive(f.id, false, 0)
}

// fill sends ready batches to idle slots and tops the ready queue up.
func (f *feeder) fill() {
	if f.stopping || !f.live.dispatchable() {
		return
	}
	now := time.Now()
	f.ready.promote(now)
	for i := f.slots.next(0); i >= 0 && f.ready.readyN > 0; i = f.slots.next(i + 1) {
		_, _, idle := f.slots.counts()
		tasks := f.ready.take(now, f.sizer.target(f.ready.readyN, idle), f.cfg.BatchSize)
		if len(tasks) == 0 {
			break
		}
		b := &batch{id: f.env.batchID(), tasks: tasks}
		if freed := f.slots.freedAt(i); !freed.IsZero() {
			f.m.RefillLatency.WithLabelValues(f.id).Observe(now.Sub(freed).Seconds())
		}
		f.slots.start(i, b.id)
		f.running++
		f.runningN += len(b.tasks)
		f.dispatched += int64(len(b.tasks))
		f.env.inflight(len(b.tasks))
		f.m.InFlightURLs.Add(float64(len(b.tasks)))
		f.m.BatchesDispatched.WithLabelValues(f.id).Inc()
		f.m.URLsDispatched.WithLabelValues(f.id).Add(float64(len(b.tasks)))
		f.log.Info("batch dispatched", "batch", b.id, "slot", i, "urls", len(b.tasks))
		go f.runBatch(f.runCtx, i, b, now)
	}
	if f.claiming || now.Before(f.claimAfter) || !f.env.canClaim() {
		return
	}
	_, free, idle := f.slots.counts()
	n := claimSize(claimNeed{slots: f.slots.len(), free: free, idle: idle, ready: f.ready.readyN,
		queued: f.ready.urls, batchSize: f.cfg.BatchSize, prefetch: f.cfg.PrefetchBatches})
	if n > 0 {
		f.claiming, f.wroteNow = true, false
		go f.claim(n, f.orphans)
	}
}

// publish exports the feeder's state to the metrics and to Status.
func (f *feeder) publish() {
	busy, _, idle := f.slots.counts()
	if !f.live.owning() {
		idle = 0
	}
	f.m.IdleSlots.WithLabelValues(f.id).Set(float64(idle))
	f.m.ReadyURLs.WithLabelValues(f.id).Set(float64(f.ready.urls))
	f.status.Store(&frontier.AssistantStatus{ID: f.id, Up: f.live.up, Draining: f.live.draining,
		Slots: f.slots.len(), Busy: busy, InFlight: f.runningN, Dispatched: f.dispatched, LastError: f.live.lastErr})
}
