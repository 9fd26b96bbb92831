package crawl

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/linkkind"
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
	links         *prometheus.CounterVec
	linksDropped  *prometheus.CounterVec
	sitemaps      *prometheus.CounterVec
	deferred      prometheus.Counter

	// Children resolved once so the hot path does no label hashing.
	durByClass  map[errclass.Class]prometheus.Observer
	errByClass  map[errclass.Class]prometheus.Counter
	linkByKind  map[LinkKind]prometheus.Counter
	dropMaxLink prometheus.Counter
	dropTooLong prometheus.Counter
}

// Sitemap fetch result label values.
var sitemapResults = []string{"2xx", "4xx", "5xx", "error", "parse_error", "disallowed"}

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
		links: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crawl_links_total",
			Help: "Links returned by fetches, by kind: anchor, frame, redirect, sitemap.",
		}, []string{"kind"}),
		linksDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crawl_links_dropped_total",
			Help: "Links left out, by reason: cap (max_links, the sitemap caps, the link byte budgets), too_long (over 8 KiB).",
		}, []string{"reason"}),
		deferred: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crawl_deferred_total",
			Help: "Pages not requested because their host's politeness wait was longer than the request's MaxWait (given back to be fetched later; not in the class counts).",
		}),
		sitemaps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crawl_sitemap_fetches_total",
			Help: "Sitemap file requests by result: 2xx, 4xx, 5xx (incl. 429), error, parse_error; disallowed ones were not requested.",
		}, []string{"result"}),
	}
	if reg != nil {
		m.fetchDuration = register(reg, m.fetchDuration)
		m.fetchedBytes = register(reg, m.fetchedBytes)
		m.robotsHits = register(reg, m.robotsHits)
		m.robotsMisses = register(reg, m.robotsMisses)
		m.robotsFetches = register(reg, m.robotsFetches)
		m.fetchErrors = register(reg, m.fetchErrors)
		m.links = register(reg, m.links)
		m.linksDropped = register(reg, m.linksDropped)
		m.sitemaps = register(reg, m.sitemaps)
		m.deferred = register(reg, m.deferred)
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
	for _, r := range sitemapResults {
		m.sitemaps.WithLabelValues(r)
	}
	m.linkByKind = make(map[LinkKind]prometheus.Counter)
	for _, k := range linkkind.All() {
		m.linkByKind[k] = m.links.WithLabelValues(k.String())
	}
	m.dropMaxLink = m.linksDropped.WithLabelValues("cap")
	m.dropTooLong = m.linksDropped.WithLabelValues("too_long")
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
	if res.Deferred {
		m.deferred.Inc()
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
	if len(res.Links) > 0 {
		// Links come in runs of one kind (page links, then sitemap URLs).
		run, n := res.Links[0].Kind, 0
		for _, l := range res.Links {
			if l.Kind != run {
				m.addLinks(run, n)
				run, n = l.Kind, 0
			}
			n++
		}
		m.addLinks(run, n)
	}
	if res.LinksDropped > 0 {
		m.dropMaxLink.Add(float64(res.LinksDropped))
	}
	if res.LinksTooLong > 0 {
		m.dropTooLong.Add(float64(res.LinksTooLong))
	}
}

func (m *Metrics) addLinks(k LinkKind, n int) {
	if c := m.linkByKind[k]; c != nil {
		c.Add(float64(n))
	}
}

func (m *Metrics) sitemapFetch(result string) {
	if m != nil {
		m.sitemaps.WithLabelValues(result).Inc()
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

func (f *metricsFetcher) Fetch(ctx context.Context, req Request) *Result {
	res := f.next.Fetch(ctx, req)
	f.m.observe(res)
	return res
}
