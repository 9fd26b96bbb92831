package dispatch

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/retry"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// The loop tests run the feeder in a synctest bubble: time is virtual and
// advances only when every goroutine of the bubble is blocked, so polls,
// down detection and grace periods happen at exact instants, and
// synctest.Wait() returns once the loop has handled everything pending.

const testPoll = time.Second

// rig is one feeder under test with its fakes.
type rig struct {
	t      *testing.T
	env    *memEnv
	asst   *fakeAssistant
	f      *feeder
	m      *Metrics
	stop   context.CancelFunc
	abort  chan struct{}
	done   chan struct{}
	starts time.Time
}

func newRig(t *testing.T, slots, batchSize int, urls ...string) *rig {
	return newRigWithPoll(t, idleReport(slots), batchSize, urls...)
}

// calls returns the Crawl calls made since the last look.
func (r *rig) calls() []*fakeCall {
	synctest.Wait()
	var out []*fakeCall
	for {
		select {
		case c := <-r.asst.calls:
			out = append(out, c)
		default:
			return out
		}
	}
}

// shutdown stops the feeder and waits for its loop to return.
func (r *rig) shutdown() {
	r.stop()
	<-r.done
}

func (r *rig) up() float64 { return testutil.ToFloat64(r.m.AssistantUp.WithLabelValues("a")) }

func TestFeederDispatchesToIdleSlotsAndRefillsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 2, 2, "u1", "u2", "u3", "u4", "u5", "u6")
		first := r.calls()
		if len(first) != 2 {
			t.Fatalf("%d Crawl calls after the first poll, want one per idle slot (2)", len(first))
		}
		if r.up() != 1 {
			t.Errorf("assistant_up = %v, want 1", r.up())
		}
		for _, c := range first {
			if len(c.req.GetTasks()) != 2 || c.req.GetMasterId() != "master-1" {
				t.Errorf("batch %v (master %q): want 2 URLs from master-1", c.urls(), c.req.GetMasterId())
			}
		}
		c := first[0]
		c.started(0)
		c.fetched(0, pb.ErrorClass_ERROR_CLASS_OK)
		c.started(1)
		c.fetched(1, pb.ErrorClass_ERROR_CLASS_OK)
		at := time.Now()
		c.end(nil)
		next := r.calls()
		if len(next) != 1 || next[0].req.GetSlot() != c.req.GetSlot() {
			t.Fatalf("after a batch ended: %d new calls, want the freed slot %d refilled", len(next), c.req.GetSlot())
		}
		if waited := time.Since(at); waited != 0 {
			t.Errorf("slot refilled after %v, want at once (not at the next poll)", waited)
		}
		_, stored, _ := r.env.snapshot()
		if len(stored) != 2 || stored[0].State != frontier.StateDone || stored[0].Attempts != 1 {
			t.Errorf("stored %+v, want the batch's two URLs done after 1 attempt", stored)
		}
		r.shutdown()
	})
}

func TestFeederMarksAHungAssistantDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 1, 3, "u1", "u2", "u3")
		calls := r.calls()
		if len(calls) != 1 {
			t.Fatalf("%d calls, want 1", len(calls))
		}
		c := calls[0]
		c.fetched(0, pb.ErrorClass_ERROR_CLASS_OK)
		c.started(1) // u2's page is being requested when the assistant hangs
		lastAnswered := r.starts
		r.asst.setPoll(func() (*pb.ReportIdleWorkerResponse, error) {
			return nil, status.Error(codes.DeadlineExceeded, "poll timed out")
		})
		for r.up() == 1 {
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
		}
		if after := time.Since(lastAnswered); after < 3*testPoll || after > 3*testPoll+200*time.Millisecond {
			t.Errorf("marked down %v after the last answered poll, want down_after (3) poll intervals", after)
		}
		synctest.Wait()
		released, _, leased := r.env.snapshot()
		want := []releaseCall{
			{urls: []string{"u2"}, charge: true, reason: "assistant_down"},
			{urls: []string{"u3"}, charge: false, reason: "assistant_down"},
		}
		if !equalReleases(released, want) || leased != 0 {
			t.Errorf("released %+v (%d still leased), want %+v", released, leased, want)
		}
		if r.env.attempts("u2") != 1 || r.env.attempts("u3") != 0 {
			t.Errorf("attempts u2 %d, u3 %d: want 1 (requested) and 0 (never started)", r.env.attempts("u2"), r.env.attempts("u3"))
		}
		if c.ctx.Err() == nil {
			t.Error("the batch's call was not cancelled")
		}
		if r.env.live["a"] {
			t.Error("a down assistant still owns shards")
		}
		r.shutdown()
	})
}

func TestFeederBrokenStreamChargesOnlyTheRequestedURLAndPauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 1, 3, "u1", "u2", "u3", "u4")
		c := r.calls()[0]
		c.fetched(0, pb.ErrorClass_ERROR_CLASS_OK)
		c.started(1)
		c.end(status.Error(codes.Unavailable, "connection reset by peer"))
		if more := r.calls(); len(more) != 0 {
			t.Fatalf("%d batches dispatched right after a stream broke as if unreachable, want none until a poll", len(more))
		}
		released, _, _ := r.env.snapshot()
		want := []releaseCall{
			{urls: []string{"u2"}, charge: true, reason: "stream_error"},
			{urls: []string{"u3"}, charge: false, reason: "stream_error"},
		}
		if !equalReleases(released, want) {
			t.Errorf("released %+v, want %+v", released, want)
		}
		// The next answered poll ends the pause and reports the slot idle.
		time.Sleep(testPoll + testPoll/10)
		if more := r.calls(); len(more) != 1 {
			t.Fatalf("%d batches after the next poll, want 1", len(more))
		}
		r.shutdown()
	})
}

func TestFeederRefusedBatchCostsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 1, 2, "u1", "u2", "u3")
		c := r.calls()[0]
		st, err := status.New(codes.Unavailable, "going away").WithDetails(&pb.Refusal{Reason: pb.RefusalReason_REFUSAL_REASON_DRAINING})
		if err != nil {
			t.Fatal(err)
		}
		r.asst.setPoll(func() (*pb.ReportIdleWorkerResponse, error) {
			return &pb.ReportIdleWorkerResponse{TotalSlots: 1, Draining: true}, nil
		})
		c.end(st.Err())
		if more := r.calls(); len(more) != 0 {
			t.Fatalf("%d batches after a draining refusal, want none", len(more))
		}
		released, _, _ := r.env.snapshot()
		if want := []releaseCall{{urls: c.urls(), charge: false, reason: "refused"}}; !equalReleases(released, want) {
			t.Errorf("released %+v, want %+v", released, want)
		}
		time.Sleep(testPoll + testPoll/10) // the poll reports draining
		synctest.Wait()
		released, _, leased := r.env.snapshot()
		if r.env.live["a"] || leased != 0 || released[len(released)-1].reason != "assistant_draining" {
			t.Errorf("after the draining report: live %v, %d leased, releases %+v; want its shards and ready queue given up",
				r.env.live["a"], leased, released)
		}
		if more := r.calls(); len(more) != 0 {
			t.Fatalf("%d batches sent to a draining assistant", len(more))
		}
		r.shutdown()
	})
}

func TestFeederUnfetchedTasksAreReleasedUncharged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 1, 3, "u1", "u2", "u3")
		c := r.calls()[0]
		c.started(0)
		c.fetched(0, pb.ErrorClass_ERROR_CLASS_HTTP_5XX)
		c.unfetched(1)
		c.unfetched(2)
		c.end(nil)
		synctest.Wait()
		released, stored, _ := r.env.snapshot()
		if want := []releaseCall{{urls: []string{"u2", "u3"}, charge: false, reason: "unfetched"}}; !equalReleases(released, want) {
			t.Errorf("released %+v, want %+v", released, want)
		}
		if len(stored) != 1 || stored[0].State != frontier.StatePending || stored[0].Class != "http_5xx" {
			t.Errorf("stored %+v, want u1 back to pending for a retry of its http_5xx", stored)
		}
		r.shutdown()
	})
}

func TestFeederShutdownWaitsForGraceThenCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 1, 2, "u1", "u2", "u3", "u4")
		c := r.calls()[0]
		c.started(0)
		stopAt := time.Now()
		r.stop()
		synctest.Wait()
		released, _, _ := r.env.snapshot()
		if len(released) != 1 || released[0].reason != "shutdown" || released[0].charge {
			t.Fatalf("released %+v at shutdown, want the ready queue, uncharged", released)
		}
		if c.ctx.Err() != nil {
			t.Fatal("running batch cancelled at once, want it given the grace period")
		}
		<-r.done
		if waited := time.Since(stopAt); waited != 5*time.Second {
			t.Errorf("loop returned %v after the stop, want the 5 s grace", waited)
		}
		released, _, leased := r.env.snapshot()
		if last := released[len(released)-1]; last.charge || last.reason != "shutdown" || !slices.Equal(last.urls, c.urls()) || leased != 0 {
			t.Errorf("after the grace: %+v, %d leased; want the batch released uncharged", last, leased)
		}
	})
}

func TestFeederLeavesForeignBatchesAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRigWithPoll(t, func() (*pb.ReportIdleWorkerResponse, error) {
			return &pb.ReportIdleWorkerResponse{TotalSlots: 2, IdleSlots: []uint32{1},
				Busy: []*pb.SlotBatch{{Slot: 0, BatchId: "previous-master-7"}}}, nil
		}, 1, "u1", "u2", "u3")
		calls := r.calls()
		if len(calls) != 1 || calls[0].req.GetSlot() != 1 {
			var slots []uint32
			for _, c := range calls {
				slots = append(slots, c.req.GetSlot())
			}
			t.Fatalf("batches on slots %v, want only slot 1 (slot 0 runs a previous master's batch)", slots)
		}
		r.shutdown()
	})
}

func TestFeederNeverUpClaimsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRigWithPoll(t, func() (*pb.ReportIdleWorkerResponse, error) {
			return nil, status.Error(codes.Unavailable, "connection refused")
		}, 2, "u1")
		time.Sleep(10 * testPoll)
		if calls := r.calls(); len(calls) != 0 {
			t.Fatalf("%d batches to an assistant never reached", len(calls))
		}
		if _, _, leased := r.env.snapshot(); leased != 0 {
			t.Errorf("%d URLs leased for an assistant never reached", leased)
		}
		if got := testutil.ToFloat64(r.m.PollFailures.WithLabelValues("a")); got < 9 {
			t.Errorf("poll failures %v, want one per interval", got)
		}
		r.shutdown()
	})
}

// newRigWithPoll is newRig with the assistant's answer to polls given.
func newRigWithPoll(t *testing.T, poll func() (*pb.ReportIdleWorkerResponse, error), batchSize int, urls ...string) *rig {
	return newRigWith(t, poll, batchSize, nil, urls...)
}

// newRigWith is newRigWithPoll with the config edited.
func newRigWith(t *testing.T, poll func() (*pb.ReportIdleWorkerResponse, error), batchSize int, edit func(*Config), urls ...string) *rig {
	return newRigEnv(t, poll, batchSize, edit, newMemEnv(urls...))
}

// newRigEnv is newRigWith on a given environment.
func newRigEnv(t *testing.T, poll func() (*pb.ReportIdleWorkerResponse, error), batchSize int, edit func(*Config), env *memEnv) *rig {
	cfg := &Config{MasterID: "master-1", PollInterval: testPoll, PollTimeout: testPoll / 2, DownAfter: 3,
		BatchSize: batchSize, Lease: time.Minute,
		Retry: retry.Policy{MaxAttempts: 3, BaseDelay: 30 * time.Second, MaxDelay: time.Hour}}
	if edit != nil {
		edit(cfg)
	}
	r := &rig{t: t, env: env, asst: &fakeAssistant{calls: make(chan *fakeCall, 64)},
		m: NewMetrics(nil), abort: make(chan struct{}), done: make(chan struct{}), starts: time.Now()}
	r.asst.setPoll(poll)
	r.f = newFeeder("a", r.asst, r.env, cfg, r.m, testLogger(t))
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go func() {
		r.f.run(ctx, 5*time.Second, r.abort)
		close(r.done)
	}()
	synctest.Wait()
	return r
}

func equalReleases(got, want []releaseCall) bool {
	return slices.EqualFunc(got, want, func(a, b releaseCall) bool {
		return a.charge == b.charge && a.reason == b.reason && slices.Equal(a.urls, b.urls)
	})
}

// A claim that committed but lost its reply leaves leases the master does
// not hold; the next claim releases them first, so the URLs are crawled
// now rather than after the lease expires.
func TestClaimAfterLostReplyReleasesOrphans(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := newMemEnv("http://a/", "http://b/")
		env.loseReplies = 1
		r := newRigEnv(t, idleReport(1), 4, nil, env)
		if calls := r.calls(); len(calls) != 0 {
			t.Fatalf("%d batches after a failed claim, want none", len(calls))
		}
		// The failed claim waits a poll interval; a poll (jittered ±10%) then
		// wakes the loop to claim again: within two more at the latest.
		time.Sleep(3 * testPoll)
		calls := r.calls()
		if len(calls) != 1 || len(calls[0].urls()) != 2 {
			t.Fatalf("batches %v after the retry, want a and b in one", calls)
		}
		env.mu.Lock()
		unheld := env.unheldCalls
		env.mu.Unlock()
		if unheld != 1 {
			t.Errorf("releaseUnheld called %d times, want once, before the retried claim", unheld)
		}
		if got := testutil.ToFloat64(r.m.Released.WithLabelValues("claim_reply_lost", "false")); got != 2 {
			t.Errorf("released_urls_total{reason=claim_reply_lost} = %v, want 2", got)
		}
		calls[0].fetched(0, pb.ErrorClass_ERROR_CLASS_OK)
		calls[0].fetched(1, pb.ErrorClass_ERROR_CLASS_OK)
		calls[0].end(nil)
		r.shutdown()
	})
}
