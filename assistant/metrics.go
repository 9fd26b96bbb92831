package assistant

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the assistant's own Prometheus metrics; fetch-level metrics
// (durations, bytes, robots cache) come from the crawl package.
type Metrics struct {
	Slots         prometheus.Gauge
	BusySlots     prometheus.Gauge
	Results       *prometheus.CounterVec
	Deferred      prometheus.Counter
	BatchDuration prometheus.Histogram
}

// NewMetrics creates the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "crawlmaster", "assistant"
	m := &Metrics{
		Slots: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "slots", Help: "Size of the worker pool."}),
		BusySlots: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "busy_slots", Help: "Slots running a batch."}),
		Results: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "results_total", Help: "Results streamed to the master, by error class."}, []string{"class"}),
		Deferred: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "deferred_total", Help: "Tasks given back DEFERRED, unrequested: their host was not ready within the batch's max_politeness_wait (not in results_total)."}),
		BatchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "batch_duration_seconds", Help: "Time to fetch and stream a whole batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14)}),
	}
	if reg != nil {
		reg.MustRegister(m.Slots, m.BusySlots, m.Results, m.Deferred, m.BatchDuration)
	}
	return m
}
