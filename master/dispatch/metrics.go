package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/master/admit"
)

// Metrics are the dispatcher's Prometheus metrics. The assistant label is
// an rpc.yaml endpoint, so its cardinality is bounded by the config.
type Metrics struct {
	BatchesDispatched *prometheus.CounterVec
	URLsDispatched    *prometheus.CounterVec
	BatchesFinished   *prometheus.CounterVec
	IdleSlots         *prometheus.GaugeVec
	AssistantUp       *prometheus.GaugeVec
	PollDuration      *prometheus.HistogramVec
	PollFailures      *prometheus.CounterVec
	InFlightURLs      prometheus.Gauge
	ReadyURLs         *prometheus.GaugeVec
	Released          *prometheus.CounterVec
	Deferred          prometheus.Counter
	UnexpectedResults prometheus.Counter
	RefillLatency     *prometheus.HistogramVec
	BatchDuration     prometheus.Histogram
	ClaimDuration     prometheus.Histogram
	LinksRefused      *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered, for tests that do not look at them).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "crawlmaster", "dispatch"
	m := &Metrics{
		BatchesDispatched: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "batches_dispatched_total", Help: "Batches sent to an assistant slot."}, []string{"assistant"}),
		URLsDispatched: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "urls_dispatched_total", Help: "URLs sent to an assistant slot."}, []string{"assistant"}),
		BatchesFinished: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "batches_finished_total", Help: "Batches whose Crawl stream ended, by result (ok: stream completed; refused: the assistant turned the batch down; error: stream broke or was cancelled)."},
			[]string{"result"}),
		IdleSlots: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "idle_slots", Help: "Slots of the assistant that are idle in the master's view."}, []string{"assistant"}),
		AssistantUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "assistant_up", Help: "1 when the assistant answers ReportIdleWorker, 0 once it is marked down."}, []string{"assistant"}),
		PollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "poll_duration_seconds", Help: "Latency of ReportIdleWorker calls.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8)}, []string{"assistant"}),
		PollFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "poll_failures_total", Help: "ReportIdleWorker calls that failed or timed out."}, []string{"assistant"}),
		InFlightURLs: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "inflight_urls", Help: "URLs in batches currently running on assistants."}),
		ReadyURLs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "ready_urls", Help: "URLs leased and waiting in the master's ready queue of the assistant for an idle slot."}, []string{"assistant"}),
		Released: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "released_urls_total", Help: "Leased URLs returned to pending without a result, by reason and whether the release charged an attempt (only a URL whose page was requested when its batch broke is charged)."}, []string{"reason", "charged"}),
		Deferred: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "deferred_urls_total", Help: "Tasks an assistant gave back DEFERRED (their host was not ready within max_politeness_wait); they keep their leases and are sent again when the host is ready."}),
		UnexpectedResults: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "unexpected_results_total", Help: "Results whose lease token was not part of their batch, or came twice; dropped."}),
		RefillLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "slot_refill_seconds", Help: "Time from a slot's batch ending to its next batch being sent, per assistant.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16)}, []string{"assistant"}),
		BatchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "batch_duration_seconds", Help: "Wall time of a batch from dispatch to the end of its stream.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14)}),
		ClaimDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "claim_duration_seconds", Help: "Latency of a frontier claim statement.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2.5, 12)}),
		LinksRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "links_refused_total", Help: "Links of fetched pages not offered to the frontier, by the crawl policy's reason (package admit: invalid, url_length, blocked_address, path_segments, repeated_segments, depth, scope, pattern)."},
			[]string{"reason"}),
	}
	for _, r := range admit.Reasons() {
		m.LinksRefused.WithLabelValues(r.String())
	}
	if reg != nil {
		reg.MustRegister(m.BatchesDispatched, m.URLsDispatched, m.BatchesFinished, m.IdleSlots, m.AssistantUp,
			m.PollDuration, m.PollFailures, m.InFlightURLs, m.ReadyURLs, m.Released, m.Deferred, m.UnexpectedResults,
			m.RefillLatency, m.BatchDuration, m.ClaimDuration, m.LinksRefused)
	}
	return m
}
