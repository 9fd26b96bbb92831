package master

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/internal/backoff"
	"github.com/crawlmaster/crawlmaster/master/dispatch"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/persist"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// metrics are the master's frontier gauges, and whether it leads.
type metrics struct {
	frontier     *prometheus.GaugeVec
	oldestDueAge prometheus.Gauge
	leader       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		frontier: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "crawlmaster", Subsystem: "frontier",
			Name: "urls", Help: "Frontier URLs by state, counted every progress interval (less often when counting takes long: at most 5% of the time)."}, []string{"state"}),
		oldestDueAge: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "crawlmaster", Subsystem: "frontier",
			Name: "oldest_due_age_seconds", Help: "How long the longest-waiting due pending URL has been due (the crawl's lag)."}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "crawlmaster", Subsystem: "master",
			Name: "leader", Help: "1 while this master leads (from taking over until its term ends), 0 while it starts or waits as standby."}),
	}
	if reg != nil {
		reg.MustRegister(m.frontier, m.oldestDueAge, m.leader)
	}
	return m
}

// progress logs one line per interval (final/total, pages/s, ETA),
// refreshes the frontier gauges and writes the leader heartbeat that
// `master status` reads.
type progress struct {
	st      *store.Store
	d       *dispatch.Dispatcher
	w       *persist.Writer
	m       *metrics
	log     *slog.Logger
	id      string
	started time.Time
	apiAddr string // where this master serves its API; "" when off

	lastAt    time.Time
	lastPages int64
	// The frontier count scans the whole table; on a large frontier it is
	// taken less often, at most statsShare of the time (see tick).
	stats    store.Stats
	statsDue time.Time
}

// statsShare bounds the share of time the progress loop spends counting
// the frontier: after a count that took d, the next waits 20·d (a 2 s
// count of a 10-million-row frontier, every 40 s) or the interval,
// whichever is longer.
const statsShare = 20

func (p *progress) pages() int64 {
	var n int64
	for _, s := range frontier.AllStates {
		n += p.w.Persisted(s)
	}
	return n
}

func (p *progress) loop(ctx context.Context, every time.Duration) {
	p.lastAt = time.Now()
	for {
		p.tick(ctx)
		if backoff.Sleep(ctx, backoff.Jitter(every, 0.1)) != nil {
			return
		}
	}
}

func (p *progress) tick(ctx context.Context) {
	if err := p.st.WriteStatus(ctx, store.MasterStatus{MasterID: p.id, StartedAt: p.started, Assistants: p.d.Status(), APIAddr: p.apiAddr}); err != nil {
		if ctx.Err() == nil {
			p.log.Warn("write status", "err", err)
		}
		return
	}
	if start := time.Now(); !start.Before(p.statsDue) {
		stats, err := p.st.Stats(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("frontier stats", "err", err)
			}
			return
		}
		p.stats, p.statsDue = stats, start.Add(statsShare*time.Since(start))
	}
	stats := p.stats
	for _, s := range frontier.AllStates {
		p.m.frontier.WithLabelValues(string(s)).Set(float64(stats.Counts[s]))
	}
	if stats.OldestDue.IsZero() {
		p.m.oldestDueAge.Set(0)
	} else {
		p.m.oldestDueAge.Set(max(0, time.Since(stats.OldestDue).Seconds()))
	}
	now := time.Now()
	pages := p.pages()
	rate := float64(pages-p.lastPages) / now.Sub(p.lastAt).Seconds()
	p.lastAt, p.lastPages = now, pages
	total, final := stats.Total(), stats.Final()
	left := total - final
	if left == 0 && rate == 0 {
		return // idle: nothing to report
	}
	eta := "unknown"
	if rate > 0 {
		eta = time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
	}
	p.log.Info("progress", "final", final, "total", total, "pending", stats.Counts[frontier.StatePending],
		"leased", stats.Counts[frontier.StateLeased], "pages_per_sec", int64(rate), "eta", eta)
}
