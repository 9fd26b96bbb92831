package crawl

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
)

// Metrics holds the package's Prometheus collectors. A nil *Metrics is
// valid and records nothing. Labels are bounded: class (the fixed Class
// set) and robots fetch result; never a URL or host.
type Metrics struct {
	fetchDuration *prometheus.HistogramVec
	fetchedBytes  prometheus.Counter
	robotsHits    prometheus.Counter
	robotsMisses  prometheus.Counter
	robotsFetches *prometheus.CounterVec
	fetchErrors   *prometheus.CounterVec

	// Children resolved once so the hot path does no label hashing.
	durByClass map[errclass.Class]prometheus.Observer
	errByClass map[errclass.Class]prometheus.Counter
}

// Robots fetch result label values.
var robotsResults = []string{"2xx", "4xx", "5xx", "error", "redirect_limit", "other"}

// NewMetrics creates the collectors and registers them with reg. A nil reg
// registers nothing (useful in tests). Registering twice on one registry
// reuses the already registered collectors instead of panicking, so two
// fetchers may share a registry; any other registration error panics, as
// with prometheus.MustRegister, since it is a programming error.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		fetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crawl_fetch_duration_seconds",
			Help:    "Page fetch duration (request to end of body, redirects included) by result class.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"class"}),
		fetchedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crawl_fetched_bytes_total",
			Help: "Body bytes read from page responses (after the body cap).",
		}),
		robotsHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crawl_robots_cache_hits_total",
			Help: "robots.txt verdicts served from the cache.",
		}),
		robotsMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crawl_robots_cache_misses_total",
			Help: "robots.txt cache misses (concurrent misses for one origin share one fetch).",
		}),
		robotsFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crawl_robots_fetches_total",
			Help: "robots.txt fetches by result: 2xx, 4xx, 5xx (incl. 429), error, redirect_limit, other.",
		}, []string{"result"}),
		fetchErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crawl_fetch_errors_total",
			Help: "Fetches that did not end in class ok, by class.",
		}, []string{"class"}),
	}
	if reg != nil {
		m.fetchDuration = register(reg, m.fetchDuration)
		m.fetchedBytes = register(reg, m.fetchedBytes)
		m.robotsHits = register(reg, m.robotsHits)
		m.robotsMisses = register(reg, m.robotsMisses)
		m.robotsFetches = register(reg, m.robotsFetches)
		m.fetchErrors = register(reg, m.fetchErrors)
	}
	m.durByClass = make(map[errclass.Class]prometheus.Observer, len(errclass.All()))
	m.errByClass = make(map[errclass.Class]prometheus.Counter, len(errclass.All()))
	for _, c := range errclass.All() {
		m.durByClass[c] = m.fetchDuration.WithLabelValues(string(c))
		if c != errclass.OK {
			m.errByClass[c] = m.fetchErrors.WithLabelValues(string(c))
		}
	}
	for _, r := range robotsResults {
		m.robotsFetches.WithLabelValues(r) // export zeros
	}
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// observe records one finished fetch.
func (m *Metrics) observe(res *Result) {
	if m == nil {
		return
	}
	c := res.Class
	if !c.Valid() {
		c = errclass.Other // keep the label set bounded whatever happens
	}
	m.durByClass[c].Observe(res.Duration.Seconds())
	if res.BodySize > 0 {
		m.fetchedBytes.Add(float64(res.BodySize))
	}
	if c != errclass.OK {
		m.errByClass[c].Inc()
	}
}

func (m *Metrics) robotsCacheHit() {
	if m != nil {
		m.robotsHits.Inc()
	}
}

func (m *Metrics) robotsCacheMiss() {
	if m != nil {
		m.robotsMisses.Inc()
	}
}

func (m *Metrics) robotsFetch(result string) {
	if m != nil {
		m.robotsFetches.WithLabelValues(result).Inc()
	}
}

// metricsFetcher is the decorator that records every Result.
type metricsFetcher struct {
	m    *Metrics
	next Fetcher
}

func (f *metricsFetcher) Fetch(ctx context.Context, url string) *Result {
	res := f.next.Fetch(ctx, url)
	f.m.observe(res)
	return res
}
