package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/internal/wire"
	"github.com/crawlmaster/crawlmaster/master/admit"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/retry"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// Store is the part of the master's store the dispatcher uses.
type Store interface {
	Claim(ctx context.Context, c frontier.Claim) ([]frontier.Task, error)
	Release(ctx context.Context, tokens []int64, charge bool) (int64, error)
	Renew(ctx context.Context, tokens []int64, lease time.Duration) (int64, error)
	ReleaseUnheld(ctx context.Context, assistant string, held []int64) (int64, error)
	Crawls(ctx context.Context) ([]frontier.Crawl, error)
	AdvanceLevels(ctx context.Context, crawlIDs []int32) (int64, error)
}

// Sink receives decided outcomes. Submit blocks while the sink is full; it
// fails only when ctx is done or the sink is closed. FlushNow says no
// result is on its way (nothing is in flight): what is buffered should be
// written now rather than after the flush interval. It must not block.
type Sink interface {
	Submit(ctx context.Context, o frontier.Outcome) error
	FlushNow()
}

// DefaultMaxSlotWait is the master's max_politeness_wait. A slot that
// would wait longer for a host gives the task back and fetches the
// batch's other URLs meanwhile: with robots.txt counting for the delay,
// the first page of every site would otherwise keep its slot asleep for
// a whole delay (1 s by default). Shorter waits are slept: a round trip
// through the master costs about as much as a fetch.
const DefaultMaxSlotWait = 50 * time.Millisecond

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
	// SiteSpacing is the wait assumed after a batch of a site not heard
	// from yet (fetch.default_delay): until its first result says how long
	// the assistant makes it wait, it gives one URL per batch if > 0.
	SiteSpacing time.Duration
	// MaxSlotWait is the longest a slot may wait for a host's politeness
	// before a page request (max_politeness_wait): a task whose host is
	// not ready by then comes back DEFERRED and is sent again once it is,
	// while the slot fetches the batch's other URLs. 0: slots wait.
	MaxSlotWait time.Duration
	// Guard refuses links to hosts the assistants would not fetch (IP
	// literals of special-purpose ranges, localhost) unless
	// fetch.allowed_networks lists them; nil admits them (tests).
	Guard *netguard.Guard
	// Credentials returns the transport credentials for dialing target:
	// mutual TLS checking the target's address (mtls.ClientCredentials),
	// or insecure ones when rpc.yaml says plaintext. Required.
	Credentials func(t Target) credentials.TransportCredentials
}

// Dispatcher pushes leased URLs to idle assistant slots: one feeder per
// assistant, the shard owner table they share, and the set of leases the
// master holds. Create it with New and call Run once.
type Dispatcher struct {
	cfg      Config
	store    Store
	sink     Sink
	log      *slog.Logger
	m        *Metrics
	conns    []*grpc.ClientConn
	feeders  []*feeder
	owners   owners
	held     heldSet
	sites    siteClock // each site's earliest next dispatch, across feeders
	policies policies

	// inflightN counts URLs in flight on every assistant; when it drops to
	// zero the sink is told to flush.
	inflightN atomic.Int64
	// firstPolls counts feeders whose first poll has not ended yet.
	firstPolls atomic.Int32
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
	if cfg.BatchSize < 1 || cfg.PollInterval <= 0 || cfg.PollTimeout <= 0 || cfg.DownAfter < 1 || cfg.Lease <= 0 || cfg.Credentials == nil {
		return nil, fmt.Errorf("dispatch: invalid config %+v", cfg)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	d := &Dispatcher{
		cfg: cfg, store: st, sink: sink, log: log, m: m,
		abort:    make(chan struct{}),
		batchPfx: fmt.Sprintf("%x", time.Now().UnixMilli()%(1<<32)),
	}
	d.owners.init()
	d.held.init()
	d.firstPolls.Store(int32(len(targets)))
	opts := []grpc.DialOption{
		// Must agree with the assistant's keepalive enforcement policy.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 20 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		// Explicit bounds (the assistant sets the same): a batch of
		// batch_size URLs out, one result with a body of at most the send
		// cap in.
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(wire.MaxRequestBytes(cfg.BatchSize)),
			grpc.MaxCallRecvMsgSize(wire.MaxResultBytes(cfg.SendBodyCap))),
	}
	sitemaps := newSitemapHosts()
	for _, t := range targets {
		conn, err := grpc.NewClient(t.Addr, append(opts, grpc.WithTransportCredentials(cfg.Credentials(t)))...)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("dispatch: assistant %s: %w", t.ID, err)
		}
		d.conns = append(d.conns, conn)
		f := newFeeder(t.ID, pb.NewAssistantClient(conn), d, &d.cfg, m, log.With("assistant", t.ID))
		f.sitemaps = sitemaps
		d.feeders = append(d.feeders, f)
	}
	return d, nil
}

func (d *Dispatcher) close() {
	for _, c := range d.conns {
		_ = c.Close()
	}
}

// Run dispatches until ctx is cancelled, then drains: it stops claiming and
// dispatching, releases the ready queues without charging an attempt, lets
// in-flight batches finish for up to grace, cancels what is left and
// releases those URLs. It returns when every batch goroutine has ended; the
// caller then closes the sink.
func (d *Dispatcher) Run(ctx context.Context, grace time.Duration) error {
	defer d.close()
	if err := d.refreshPolicies(ctx); err != nil {
		d.log.Warn("read crawls; retrying in the background", "err", err)
	}
	renewCtx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { d.renewLoop(renewCtx) })
	wg.Go(func() { d.policyLoop(renewCtx) })
	var loops sync.WaitGroup
	for _, f := range d.feeders {
		loops.Go(func() { f.run(ctx, grace, d.abort) })
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
	out := make([]frontier.AssistantStatus, 0, len(d.feeders))
	for _, f := range d.feeders {
		out = append(out, *f.status.Load())
	}
	return out
}

// The env interface: the master as the feeders see it.

func (d *Dispatcher) claim(ctx context.Context, owner string, n int) ([]frontier.Task, error) {
	// PerSite: a batch takes up to batch_size URLs of a site without a
	// politeness wait; a site with one gives a URL per batch and keeps the
	// rest queued (their leases renewed) until its wait has passed.
	tasks, err := d.store.Claim(ctx, frontier.Claim{Shards: d.owners.shardsOf(owner), Limit: n, PerSite: d.cfg.BatchSize,
		Lease: d.cfg.Lease, Assistant: owner, Paused: d.policies.pausedIDs(), AnyScope: d.policies.anyScopeIDs()})
	if err == nil {
		d.held.add(tasks)
	}
	return tasks, err
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
	d.m.Released.WithLabelValues(reason, strconv.FormatBool(charge)).Add(float64(len(tokens)))
}

func (d *Dispatcher) submit(ctx context.Context, o frontier.Outcome) error {
	if err := d.sink.Submit(ctx, o); err != nil {
		return err
	}
	d.held.remove(o.Token)
	return nil
}

func (d *Dispatcher) owns(owner string, shard int16) bool { return d.owners.owner(shard) == owner }

func (d *Dispatcher) setLive(owner string, live bool, slots int) {
	if n, changed := d.owners.set(owner, live, slots); changed {
		d.log.Info("shard owners changed", "live_assistants", n)
		d.notifyAll()
	}
}

func (d *Dispatcher) firstPollEnded(string) {
	if d.firstPolls.Add(-1) == 0 {
		d.notifyAll()
	}
}

func (d *Dispatcher) canClaim() bool { return d.firstPolls.Load() <= 0 }

func (d *Dispatcher) inflight(delta int) {
	// When nothing is in flight any more the crawl is winding down or
	// idle: nothing will join the writer's batch soon, so waiting out its
	// flush interval would only delay these results.
	if d.inflightN.Add(int64(delta)) == 0 && delta < 0 {
		d.sink.FlushNow()
	}
}

func (d *Dispatcher) batchID() string {
	return fmt.Sprintf("%s-%d", d.batchPfx, d.batchSeq.Add(1))
}

func (d *Dispatcher) releaseUnheld(ctx context.Context, owner string) (int64, error) {
	return d.store.ReleaseUnheld(ctx, owner, d.held.snapshot())
}

func (d *Dispatcher) noteSite(site string, t time.Time) { d.sites.note(site, t, time.Now()) }

func (d *Dispatcher) siteNotBefore(site string) time.Time { return d.sites.notBefore(site) }

func (d *Dispatcher) refused(r *admit.Refused) {
	for _, reason := range admit.Reasons() {
		if n := r[reason]; n > 0 {
			d.m.LinksRefused.WithLabelValues(reason.String()).Add(float64(n))
		}
	}
}

// notifyAll wakes every feeder to drop ready URLs it no longer owns and
// to fill its slots.
func (d *Dispatcher) notifyAll() {
	for _, f := range d.feeders {
		f.notify()
	}
}
