package upkeep

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/internal/backoff"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// Config is the loop's timing and batch sizes.
type Config struct {
	// Interval between passes over revisits and schedules (jittered
	// ±10%): how late, at most, a due revisit or a tick is noticed.
	Interval time.Duration
	// RetentionInterval is the longest between retention passes; a crawl
	// keeping results for less than ten of them is visited every tenth of
	// its retention (never more often than Interval).
	RetentionInterval time.Duration
	// DefaultRetention applies to crawls that set none; 0 keeps results
	// forever.
	DefaultRetention time.Duration
	// PromoteBatch and DeleteBatch are the most rows one statement
	// changes: short transactions, short locks.
	PromoteBatch, DeleteBatch int
}

// DefaultConfig is the loop the master runs: a pass a second, retention
// every minute, batches of 5,000 revisits and 1,000 deleted results.
func DefaultConfig(retention time.Duration) Config {
	return Config{Interval: time.Second, RetentionInterval: time.Minute, DefaultRetention: retention,
		PromoteBatch: 5000, DeleteBatch: 1000}
}

// Store is what the loop needs of the database.
type Store interface {
	PromoteDue(ctx context.Context, limit int) (int64, error)
	TickRounds(ctx context.Context, now time.Time) ([]store.Round, error)
	Retentions(ctx context.Context, def time.Duration) ([]store.Retention, error)
	DeleteExpired(ctx context.Context, crawlID int32, cutoff time.Time, limit int) (results, bodies int64, err error)
}

// Loop runs the passes.
type Loop struct {
	cfg Config
	st  Store
	log *slog.Logger
	m   *Metrics
	// Wake is called after URLs became pending (revisits, rounds), so idle
	// feeders claim them now rather than at their next poll.
	Wake func()
	// Now is the clock of ticks and retention cutoffs (tests inject one).
	Now func() time.Time
}

// New returns a loop; m may be nil.
func New(cfg Config, st Store, log *slog.Logger, m *Metrics) *Loop {
	if m == nil {
		m = NewMetrics(nil)
	}
	cfg.PromoteBatch, cfg.DeleteBatch = max(cfg.PromoteBatch, 1), max(cfg.DeleteBatch, 1)
	return &Loop{cfg: cfg, st: st, log: log, m: m, Wake: func() {}, Now: time.Now}
}

// Run makes passes until ctx ends: revisits and schedules every
// Interval, and retention on its own, so that a long backlog of expired
// results never delays a revisit or a tick.
func (l *Loop) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		for backoff.Sleep(ctx, backoff.Jitter(l.cfg.Interval, 0.1)) == nil {
			l.Pass(ctx)
		}
	})
	wg.Go(func() {
		every := l.cfg.Interval
		for backoff.Sleep(ctx, backoff.Jitter(every, 0.1)) == nil {
			every = l.cfg.RetentionInterval
			if shortest := l.Retain(ctx); shortest > 0 {
				every = min(every, max(shortest/10, l.cfg.Interval))
			}
		}
	})
	wg.Wait()
}

// Pass promotes due revisits and ticks due schedules once.
func (l *Loop) Pass(ctx context.Context) {
	var promoted int64
	for {
		n, err := l.st.PromoteDue(ctx, l.cfg.PromoteBatch)
		if err != nil {
			l.warn(ctx, "promote due revisits", err)
			break
		}
		promoted += n
		if n < int64(l.cfg.PromoteBatch) {
			break
		}
	}
	if promoted > 0 {
		l.m.Revisits.Add(float64(promoted))
		l.log.Debug("revisits due", "urls", promoted)
	}
	rounds, err := l.st.TickRounds(ctx, l.Now())
	if err != nil {
		l.warn(ctx, "tick scheduled crawls", err)
	}
	woke := promoted > 0
	for _, r := range rounds {
		l.m.Rounds.WithLabelValues(r.Outcome).Inc()
		switch r.Outcome {
		case store.RoundSkipped:
			l.log.Warn("round skipped: the previous round is still running (overlap skip)", "crawl", r.Crawl,
				"running", r.Running, "next", r.Next)
		default:
			l.log.Info("round "+r.Outcome, "crawl", r.Crawl, "round", r.Number, "seeds", r.Seeds,
				"running", r.Running, "next", r.Next)
			woke = woke || r.Seeds > 0
		}
	}
	if woke {
		l.Wake()
	}
}

// Retain deletes each crawl's expired results, a batch at a time, and
// returns the shortest retention (0: none).
func (l *Loop) Retain(ctx context.Context) (shortest time.Duration) {
	rets, err := l.st.Retentions(ctx, l.cfg.DefaultRetention)
	if err != nil {
		l.warn(ctx, "read retentions", err)
		return 0
	}
	now := l.Now()
	for _, r := range rets {
		if shortest == 0 || r.Keep < shortest {
			shortest = r.Keep
		}
		var results, bodies int64
		for ctx.Err() == nil {
			n, b, err := l.st.DeleteExpired(ctx, r.CrawlID, now.Add(-r.Keep), l.cfg.DeleteBatch)
			if err != nil {
				l.warn(ctx, "delete expired results", err)
				break
			}
			results, bodies = results+n, bodies+b
			l.m.Deleted.WithLabelValues("results").Add(float64(n))
			l.m.Deleted.WithLabelValues("bodies").Add(float64(b))
			if n < int64(l.cfg.DeleteBatch) {
				break
			}
		}
		if results > 0 {
			l.log.Info("retention deleted results", "crawl_id", r.CrawlID, "results", results, "bodies", bodies, "older_than", r.Keep)
		}
	}
	return shortest
}

func (l *Loop) warn(ctx context.Context, what string, err error) {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return
	}
	l.log.Warn(what+" failed", "err", err)
}

// Metrics are the loop's counters.
type Metrics struct {
	Revisits prometheus.Counter
	Rounds   *prometheus.CounterVec
	Deleted  *prometheus.CounterVec
}

// NewMetrics registers the loop's metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "crawlmaster", "upkeep"
	m := &Metrics{
		Revisits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "revisits_due_total", Help: "URLs made pending again because their revisit fell due."}),
		Rounds: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "rounds_total", Help: "Ticks of scheduled crawls, by outcome: started, merged (previous round still running, seeds made due), skipped (previous round still running)."},
			[]string{"outcome"}),
		Deleted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "retention_deleted_total", Help: "Rows deleted by retention, by table (results, bodies)."},
			[]string{"table"}),
	}
	for _, o := range []string{store.RoundStarted, store.RoundMerged, store.RoundSkipped} {
		m.Rounds.WithLabelValues(o)
	}
	for _, t := range []string{"results", "bodies"} {
		m.Deleted.WithLabelValues(t)
	}
	if reg != nil {
		reg.MustRegister(m.Revisits, m.Rounds, m.Deleted)
	}
	return m
}
