package persist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/crawlmaster/crawlmaster/internal/backoff"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// Persister stores a batch; see store.Store.Persist.
type Persister interface {
	Persist(ctx context.Context, outs []frontier.Outcome) (store.Written, error)
}

// Config tunes the writer. BatchSize, FlushInterval and Buffer are
// required (rpc.yaml's persist section, whose defaults are
// config.Default's); New panics when they are unset or inconsistent.
type Config struct {
	BatchSize     int           // >= 1
	FlushInterval time.Duration // > 0
	Buffer        int           // outcomes held before Submit blocks; >= BatchSize
	BufferBytes   int64         // body bytes held before Submit blocks; 0: 64MiB
	FinalFlush    time.Duration // time the last write gets once Run is stopped; 0: 30s
}

// ErrClosed is returned by Submit once the writer has stopped.
var ErrClosed = errors.New("persist: writer stopped")

// Writer batches outcomes into the store. Create with New, run Run in a
// goroutine, Submit from any goroutine; cancel Run's context once no
// Submit can happen any more (the dispatcher has stopped), and Run writes
// what is left and returns.
type Writer struct {
	cfg   Config
	p     Persister
	log   *slog.Logger
	m     *Metrics
	in    chan frontier.Outcome
	now   chan struct{} // FlushNow requests
	done  chan struct{}
	bytes *semaphore.Weighted

	persisted [5]atomic.Int64 // by state index
	rejected  atomic.Int64
	written   func() // OnWritten's hook; nil: none
}

// New creates a writer. It panics on a Config that breaks the rules on
// its fields (config.Validate rejects such a file).
func New(cfg Config, p Persister, log *slog.Logger, m *Metrics) *Writer {
	if cfg.BatchSize < 1 || cfg.FlushInterval <= 0 || cfg.Buffer < cfg.BatchSize {
		panic(fmt.Sprintf("persist: invalid Config: BatchSize %d (want >= 1), FlushInterval %v (want > 0), Buffer %d (want >= BatchSize)",
			cfg.BatchSize, cfg.FlushInterval, cfg.Buffer))
	}
	if cfg.BufferBytes <= 0 {
		cfg.BufferBytes = 64 << 20
	}
	if cfg.FinalFlush <= 0 {
		cfg.FinalFlush = 30 * time.Second
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Writer{cfg: cfg, p: p, log: log, m: m,
		in: make(chan frontier.Outcome, cfg.Buffer), now: make(chan struct{}, 1), done: make(chan struct{}),
		bytes: semaphore.NewWeighted(cfg.BufferBytes)}
}

// Submit queues one outcome, blocking while the buffer is full. It fails
// when ctx is done or the writer is closed; the outcome is then not stored
// and its lease stays with the caller.
func (w *Writer) Submit(ctx context.Context, o frontier.Outcome) error {
	select {
	case <-w.done:
		return ErrClosed // a stopped writer never takes an outcome it would not write
	default:
	}
	n := min(int64(len(o.Body)), w.cfg.BufferBytes)
	if n > 0 {
		if err := w.bytes.Acquire(ctx, n); err != nil {
			return err
		}
	}
	select {
	case w.in <- o:
		w.m.Buffered.Inc()
		return nil
	case <-ctx.Done():
		w.bytes.Release(n)
		return ctx.Err()
	case <-w.done:
		w.bytes.Release(n)
		return ErrClosed
	}
}

// FlushNow asks Run to write what was submitted so far without waiting for
// the flush interval (the caller knows no more results are coming soon). It
// does not block or wait for the write.
func (w *Writer) FlushNow() {
	select {
	case w.now <- struct{}{}:
	default: // a request is pending already
	}
}

// OnWritten sets f to be called after each committed write that ended
// leases or admitted links, i.e. that may have made URLs claimable (a
// site no longer in flight, its next level, new sites). f runs on the
// writer's goroutine between writes: it must not block. Call it before
// Run.
func (w *Writer) OnWritten(f func()) { w.written = f }

// Persisted returns how many outcomes were stored in state s.
func (w *Writer) Persisted(s frontier.State) int64 { return w.persisted[stateIndex(s)].Load() }

// Rejected returns how many outcomes were dropped for a stale lease token.
func (w *Writer) Rejected() int64 { return w.rejected.Load() }

// Run writes batches until ctx is done. It then stops taking outcomes
// (Submit returns ErrClosed), writes what was submitted, giving that last
// write up to Config.FinalFlush of its own, and returns nil, or the error
// that stopped it: outcomes it could not write are lost to this process,
// but their leases stay in the database, so they are crawled again after
// the leases are released or expire.
func (w *Writer) Run(ctx context.Context) error {
	// Writes use a context of their own: the last one must outlive ctx.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var final *time.Timer
	stop := context.AfterFunc(ctx, func() {
		final = time.AfterFunc(w.cfg.FinalFlush, cancel)
		close(w.done)
	})
	defer func() {
		if !stop() && final != nil {
			<-w.done // AfterFunc ran: final is set
			final.Stop()
		}
	}()
	ctx = wctx
	batch := make([]frontier.Outcome, 0, w.cfg.BatchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	add := func(o frontier.Outcome) {
		if len(batch) == 0 {
			timer.Reset(w.cfg.FlushInterval)
		}
		batch = append(batch, o)
	}
	flush := func() error {
		timer.Stop()
		if err := w.flush(ctx, batch); err != nil {
			return err
		}
		clear(batch)
		batch = batch[:0]
		return nil
	}
	push := func(o frontier.Outcome) error {
		add(o)
		if len(batch) >= w.cfg.BatchSize {
			return flush()
		}
		return nil
	}
	// drain writes everything in the channel now, then returns.
	drain := func() error {
		for {
			select {
			case o := <-w.in:
				if err := push(o); err != nil {
					return err
				}
			default:
				return flush()
			}
		}
	}
	for {
		select {
		case o := <-w.in:
			if err := push(o); err != nil {
				return err
			}
		case <-timer.C:
			if err := flush(); err != nil {
				return err
			}
		case <-w.now:
			// Everything submitted before the request is in the channel.
			if err := drain(); err != nil {
				return err
			}
		case <-w.done:
			// Everything submitted before the stop is in the channel.
			return drain()
		}
	}
}

// flush stores one batch, retrying with capped exponential backoff until it
// succeeds or ctx is done. Retrying the same batch is safe: results are
// keyed by lease token and fenced.
func (w *Writer) flush(ctx context.Context, batch []frontier.Outcome) error {
	if len(batch) == 0 {
		return nil
	}
	retry := backoff.Backoff{Base: 100 * time.Millisecond, Max: 2 * time.Second, Jitter: 0.2}
	for attempt := 1; ; attempt++ {
		start := time.Now()
		written, err := w.p.Persist(ctx, batch)
		if err == nil {
			w.m.BatchSize.Observe(float64(len(batch)))
			w.m.Duration.Observe(time.Since(start).Seconds())
			w.account(batch, written)
			if w.written != nil && (written.Accepted.Total() > 0 || written.Admitted.New > 0) {
				w.written()
			}
			return nil
		}
		w.m.Errors.Inc()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := retry.Next()
		w.log.Error("persist results failed; retrying", "results", len(batch), "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		if err := backoff.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// account updates counters and frees the batch's body bytes after a
// successful write.
func (w *Writer) account(batch []frontier.Outcome, written store.Written) {
	accepted := written.Accepted
	w.m.Buffered.Sub(float64(len(batch)))
	var bodyBytes int64
	for _, o := range batch {
		bodyBytes += min(int64(len(o.Body)), w.cfg.BufferBytes)
	}
	if bodyBytes > 0 {
		w.bytes.Release(bodyBytes)
	}
	if rejected := int64(len(batch)) - accepted.Total(); rejected > 0 {
		w.rejected.Add(rejected)
		w.m.Rejected.Add(float64(rejected))
		w.log.Warn("stale results rejected by lease token", "rejected", rejected, "batch", len(batch))
	}
	for st, n := range accepted {
		w.persisted[stateIndex(st)].Add(n)
		w.m.Persisted.WithLabelValues(string(st)).Add(float64(n))
	}
	if a := written.Admitted; a.Offered > 0 {
		w.m.Links.WithLabelValues("new").Add(float64(a.New))
		w.m.Links.WithLabelValues("known").Add(float64(a.Known))
		w.m.Links.WithLabelValues("over_budget").Add(float64(a.OverBudget))
	}
}

func stateIndex(s frontier.State) int {
	for i, st := range frontier.AllStates {
		if st == s {
			return i
		}
	}
	return 0
}

// Metrics are the writer's Prometheus metrics.
type Metrics struct {
	Persisted *prometheus.CounterVec
	Rejected  prometheus.Counter
	Errors    prometheus.Counter
	BatchSize prometheus.Histogram
	Duration  prometheus.Histogram
	Buffered  prometheus.Gauge
	Links     *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "crawlmaster", "persist"
	m := &Metrics{
		Persisted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "results_total", Help: "Results written, by the state the URL moved to (pending means a retry was scheduled)."},
			[]string{"outcome"}),
		Rejected: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "stale_results_rejected_total", Help: "Results dropped because their lease token was no longer current (fencing)."}),
		Errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "errors_total", Help: "Failed attempts to write a batch (each is retried)."}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "batch_size", Help: "Results per write transaction.", Buckets: prometheus.ExponentialBuckets(1, 2, 14)}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "batch_duration_seconds", Help: "Duration of a write transaction.", Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12)}),
		Buffered: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "buffered_results", Help: "Results submitted and not yet written."}),
		Links: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "links_total", Help: "Links of stored results offered to the frontier, by what became of them: new (admitted), known (already in the crawl), over_budget (their site had used its budget)."},
			[]string{"result"}),
	}
	for _, r := range []string{"new", "known", "over_budget"} {
		m.Links.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.Persisted, m.Rejected, m.Errors, m.BatchSize, m.Duration, m.Buffered, m.Links)
	}
	return m
}
