package dispatch

import (
	"context"
	"errors"
	"fmt"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/crawlmaster/crawlmaster/master/retry"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// Store is the part of the master's store the dispatcher uses.
type Store interface {
	Claim(ctx context.Context, p frontier.Claim) ([]frontier.Task, error)
	Release(ctx context.Context, tokens []int64, charge bool) (int64, error)
	Renew(ctx context.Context, tokens []int64, lease time.Duration) (int64, error)
}

// Sink receives decided outcomes. Submit blocks while the sink is full; it
// fails only when ctx is done or the sink is closed. FlushNow says no
// result is on its way (nothing is in flight): what is buffered should be
// written now rather than after the flush interval. It must not block.
type Sink interface {
	Submit(ctx context.Context, o frontier.Outcome) error
	FlushNow()
}

// Target is one assistant endpoint from rpc.yaml.
type Target struct {
	ID   string // "address:port", as in rpc.yaml
	Addr string // dial address
}

// Config tunes the dispatcher; see rpc.yaml's dispatch section.
type Config struct {
	MasterID        string
	PollInterval    time.Duration
	PollTimeout     time.Duration
	DownAfter       int
	BatchSize       int
	BatchDuration   time.Duration // target wall time of a batch; 0: always BatchSize URLs
	PrefetchBatches int           // 0: half the assistant's slots
	Lease           time.Duration
	SendBodyCap     int64
	Retry           retry.Policy
	// DialOptions are added to every assistant connection (tests).
	DialOptions []grpc.DialOption
}

// Errors that say why batches were cancelled.
var (
	errShutdown      = errors.New("dispatch: master shutting down")
	errAssistantDown = errors.New("dispatch: assistant marked down")
)

// Dispatcher pushes leased URLs to idle assistant slots. Create it with New
// and call Run once.
type Dispatcher struct {
	cfg        Config
	store      Store
	sink       Sink
	log        *slog.Logger
	m          *Metrics
	assistants []*assistant

	// owners maps each shard to the id of the live assistant that owns it.
	owners atomic.Pointer[[frontier.NumShards]string]
	liveMu sync.Mutex
	live   map[string]int // live assistant id -> its slots

	// inflight counts URLs in flight on every assistant; when it drops to
	// zero the sink is told to flush.
	inflight atomic.Int64
	// firstPolls counts assistants whose first poll has not ended yet.
	// Nothing is claimed before every first poll has ended (answered or
	// failed, within PollTimeout): claiming with a partial live set would
	// lease the others' shards only to release them a moment later.
	firstPolls atomic.Int32
	held       heldSet
	abort      chan struct{}
	abortOnce  sync.Once
	batchSeq   atomic.Uint64
	batchPfx   string
}

// New creates a dispatcher for targets. It does not connect yet: gRPC
// connections are lazy, so an unreachable assistant at start is reported
// by its failing polls, not by New.
func New(cfg Config, targets []Target, st Store, sink Sink, log *slog.Logger, m *Metrics) (*Dispatcher, error) {
	if len(targets) == 0 {
		return nil, errors.New("dispatch: no assistants configured")
	}
	if cfg.BatchSize < 1 || cfg.PollInterval <= 0 || cfg.PollTimeout <= 0 || cfg.DownAfter < 1 || cfg.Lease <= 0 {
		return nil, fmt.Errorf("dispatch: invalid config %+v", cfg)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	d := &Dispatcher{
		cfg: cfg, store: st, sink: sink, log: log, m: m,
		live:     map[string]int{},
		abort:    make(chan struct{}),
		held:     heldSet{m: map[int64]struct{}{}},
		batchPfx: fmt.Sprintf("%x", time.Now().UnixMilli()%(1<<32)),
	}
	d.owners.Store(&[frontier.NumShards]string{})
	d.firstPolls.Store(int32(len(targets)))
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// Must agree with the assistant's keepalive enforcement policy.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 20 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16 << 20)),
	}, cfg.DialOptions...)
	for _, t := range targets {
		conn, err := grpc.NewClient(t.Addr, opts...)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("dispatch: assistant %s: %w", t.ID, err)
		}
		a := &assistant{
			d: d, id: t.ID, conn: conn, client: pb.NewAssistantClient(conn),
			events:  make(chan event, 256),
			ownerCh: make(chan struct{}, 1),
			log:     log.With("assistant", t.ID),
		}
		a.status.Store(&frontier.AssistantStatus{ID: t.ID})
		m.AssistantUp.WithLabelValues(t.ID).Set(0)
		d.assistants = append(d.assistants, a)
	}
	return d, nil
}

func (d *Dispatcher) close() {
	for _, a := range d.assistants {
		_ = a.conn.Close()
	}
}

// Run dispatches until ctx is cancelled, then drains: it stops claiming and
// dispatching, releases the ready queues without charging an attempt, lets
// in-flight batches finish for up to grace, cancels what is left and
// releases those URLs. It returns when every batch goroutine has ended; the
// caller then closes the sink.
func (d *Dispatcher) Run(ctx context.Context, grace time.Duration) error {
	defer d.close()
	renewCtx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { d.renewLoop(renewCtx) })
	var loops sync.WaitGroup
	for _, a := range d.assistants {
		loops.Go(func() { a.loop(ctx, grace) })
	}
	loops.Wait()
	stopRenew()
	wg.Wait()
	// Whatever is still held (a release that failed) is given back now.
	if left := d.held.snapshot(); len(left) > 0 {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := d.store.Release(rctx, left, false); err != nil {
			d.log.Error("release leases at shutdown failed; they will be rescued when they expire", "urls", len(left), "err", err)
		}
	}
	return nil
}

// Abort makes a draining Run cancel its in-flight batches at once instead of
// granting them the grace period: for a master that lost leadership, whose
// results would be rejected anyway and whose batches hold slots the new
// leader needs. Safe to call at any time, more than once.
func (d *Dispatcher) Abort() { d.abortOnce.Do(func() { close(d.abort) }) }

// Status returns a snapshot of every assistant's state.
func (d *Dispatcher) Status() []frontier.AssistantStatus {
	out := make([]frontier.AssistantStatus, 0, len(d.assistants))
	for _, a := range d.assistants {
		out = append(out, *a.status.Load())
	}
	return out
}

// setLive records an assistant's liveness and slot count and, when either
// changed, reassigns shards and tells every loop to drop ready URLs it no
// longer owns.
func (d *Dispatcher) setLive(id string, up bool, slots int) {
	d.liveMu.Lock()
	if have, ok := d.live[id]; ok == up && (!up || have == slots) {
		d.liveMu.Unlock()
		return
	}
	if up {
		d.live[id] = slots
	} else {
		delete(d.live, id)
	}
	live := make([]member, 0, len(d.live))
	for id, n := range d.live {
		live = append(live, member{id: id, slots: n})
	}
	d.owners.Store(ownerTable(live))
	d.liveMu.Unlock()
	d.log.Info("shard owners changed", "live_assistants", len(live))
	d.notifyOwners()
}

// notifyOwners wakes every assistant loop to drop ready URLs it no longer
// owns and to fill its slots.
func (d *Dispatcher) notifyOwners() {
	for _, a := range d.assistants {
		select {
		case a.ownerCh <- struct{}{}:
		default:
		}
	}
}

// shardsOf lists the shards id owns now.
func (d *Dispatcher) shardsOf(id string) []int16 {
	owners := d.owners.Load()
	var out []int16
	for s, o := range owners {
		if o == id {
			out = append(out, int16(s))
		}
	}
	return out
}

func (d *Dispatcher) owns(id, domain string) bool {
	return d.owners.Load()[frontier.Shard(domain)] == id
}

// release gives leased URLs back to pending with a context that survives
// shutdown. A failure leaves them held so the final release retries them;
// past that they expire and the rescuer returns them.
func (d *Dispatcher) release(tokens []int64, charge bool, reason string) {
	if len(tokens) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.store.Release(ctx, tokens, charge); err != nil {
		d.log.Error("release leases", "urls", len(tokens), "reason", reason, "err", err)
		return
	}
	d.held.remove(tokens...)
	d.m.Released.WithLabelValues(reason).Add(float64(len(tokens)))
}

// renewLoop extends every held lease well before it expires, so slow
// batches are not rescued from under the master.
func (d *Dispatcher) renewLoop(ctx context.Context) {
	interval := d.cfg.Lease / 3
	for {
		t := time.NewTimer(jitter(interval, 0.1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
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

func (d *Dispatcher) nextBatchID() string {
	return fmt.Sprintf("%s-%d", d.batchPfx, d.batchSeq.Add(1))
}

// heldSet is the set of lease tokens the master holds (ready or in flight)
// and has not yet resolved; the renewer keeps them alive.
type heldSet struct {
	mu sync.Mutex
	m  map[int64]struct{}
}

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

// jitter spreads d uniformly over ±frac of itself.
func jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 + frac*(2*rand.Float64()-1)))
}
