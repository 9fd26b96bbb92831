package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl"
)

// Environment variable read by [Load]: when set and non-empty it replaces
// database.url.
const EnvDatabaseURL = "DATABASE_URL"

// Default values of the settings. The reference rpc.yaml at the repository
// root documents the same values.
const (
	DefaultManagerAddress   = "127.0.0.1"
	DefaultMetricsPortDelta = 1000 // rpc.assistant[].metrics_port = port + this
	DefaultDatabaseURL      = "postgres://crawlmaster@127.0.0.1:15432/crawlmaster?sslmode=disable"
	DefaultDatabaseMaxConns = 8

	DefaultPollInterval     = time.Second
	DefaultPollTimeout      = 500 * time.Millisecond
	DefaultDownAfter        = 3
	DefaultDispatchBatch    = 16
	DefaultBatchDuration    = time.Second
	DefaultPrefetchBatches  = 0 // auto: slots/2, see Dispatch.PrefetchFor
	DefaultLeaseDuration    = 5 * time.Minute
	DefaultRescueInterval   = 30 * time.Second
	DefaultProgressInterval = 5 * time.Second
	DefaultShutdownGrace    = 30 * time.Second

	DefaultRetryMaxAttempts = 3
	DefaultRetryBaseDelay   = 30 * time.Second
	DefaultRetryMaxDelay    = time.Hour
	DefaultRetryJitter      = 0.2

	DefaultPersistBatch  = 1000
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultPersistBuffer = 20000
	DefaultStoreBodies   = true
	DefaultStoredBodyCap = 256 * KiB
	// The fetch defaults are the crawl library's, so an assistant and a
	// program using crawl.DefaultConfig fetch alike.
	DefaultUserAgent       = crawl.DefaultUserAgent
	DefaultConnectTimeout  = crawl.DefaultConnectTimeout
	DefaultFetchTimeout    = crawl.DefaultTimeout
	DefaultRobotsTimeout   = crawl.DefaultRobotsTimeout
	DefaultMaxRedirects    = crawl.DefaultMaxRedirects
	DefaultBodyCap         = ByteSize(crawl.DefaultBodyCap)
	DefaultRobotsCap       = ByteSize(crawl.DefaultRobotsCap)
	DefaultRobotsTTL       = crawl.DefaultRobotsTTL
	DefaultRobotsErrorTTL  = crawl.DefaultRobotsErrorTTL
	DefaultRobotsCacheSize = crawl.DefaultRobotsCacheSize
	DefaultDelay           = crawl.DefaultDelay
	DefaultMaxCrawlDelay   = crawl.DefaultMaxCrawlDelay
	DefaultMemoryLimit     = 80 * MiB

	DefaultLogFormat = "text"
	DefaultLogLevel  = "info"
)

// MaxWorkers is the largest accepted rpc.assistant[].workers value. It only
// guards against typos (a slot is a goroutine with its own fetch state).
const MaxWorkers = 65536

const maxPort = 65535

// Config is the whole of rpc.yaml. Both daemons load the same file; each
// reads the sections that concern it.
type Config struct {
	// RPC lists the network endpoints of the master and the assistants.
	RPC RPC `yaml:"rpc"`
	// Database is the master's PostgreSQL connection.
	Database Database `yaml:"database"`
	// Dispatch tunes how the master polls assistants and hands out batches.
	Dispatch Dispatch `yaml:"dispatch"`
	// Retry controls how the master reschedules URLs whose fetch failed.
	Retry Retry `yaml:"retry"`
	// Persist controls how the master writes crawl results to PostgreSQL.
	Persist Persist `yaml:"persist"`
	// Fetch configures the assistants' HTTP fetching and robots.txt handling.
	Fetch Fetch `yaml:"fetch"`
	// Log configures logging of both daemons.
	Log Log `yaml:"log"`
	// Metrics configures the admin HTTP servers of both daemons.
	Metrics Metrics `yaml:"metrics"`
}

// RPC is the "rpc" section, laid out as in the older Python system.
type RPC struct {
	// Manager is where the master listens. Required (its port has no default).
	Manager Manager `yaml:"manager"`
	// Assistants lists every assistant the master drives; at least one.
	// Two entries may not share address and port.
	Assistants []Assistant `yaml:"assistant"`
}

// Manager is rpc.manager: the master's admin HTTP endpoint (/metrics,
// /healthz and /debug/pprof when metrics.pprof is true). The master serves no
// gRPC; it is the gRPC client of the assistants.
type Manager struct {
	// Address is the IP or host name the admin server binds to.
	// Default 127.0.0.1.
	Address string `yaml:"address"`
	// Port of the admin server, 1..65535. Required.
	Port int `yaml:"port"`
}

// Addr returns "address:port" (IPv6 addresses in brackets), suitable for
// net.Listen.
func (m Manager) Addr() string { return joinHostPort(m.Address, m.Port) }

// Assistant is one rpc.assistant[] entry.
type Assistant struct {
	// Address is the IP or host name the assistant's gRPC server listens on
	// and the master dials. Required.
	Address string `yaml:"address"`
	// Port of the assistant's gRPC server, 1..65535. Required.
	Port int `yaml:"port"`
	// Workers is the assistant's number of worker slots (each slot crawls
	// one batch at a time). Written as a number, or in the old form as a
	// non-empty list whose length is the count. Required, 1..MaxWorkers.
	Workers Workers `yaml:"workers"`
	// MetricsPort is where the assistant serves its admin HTTP (/metrics,
	// /healthz, /debug/pprof when enabled), on the same address. Optional:
	// 0 or absent means Port+1000; Parse and Load fill it in.
	MetricsPort int `yaml:"metrics_port"`
}

// ID returns the assistant's identity "address:port" (IPv6 addresses in
// brackets), which is also its gRPC dial target and the key accepted by
// [Config.Assistant].
func (a Assistant) ID() string { return joinHostPort(a.Address, a.Port) }

// EffectiveMetricsPort returns MetricsPort, or Port+1000 when it is 0.
func (a Assistant) EffectiveMetricsPort() int {
	if a.MetricsPort != 0 {
		return a.MetricsPort
	}
	return a.Port + DefaultMetricsPortDelta
}

// MetricsAddr returns "address:metrics_port" of the assistant's admin server.
func (a Assistant) MetricsAddr() string {
	return joinHostPort(a.Address, a.EffectiveMetricsPort())
}

// Database is the "database" section, used by the master only.
type Database struct {
	// URL is the PostgreSQL connection string (URL or key=value form).
	// Default DefaultDatabaseURL. [Load] replaces it with $DATABASE_URL when
	// that variable is set and non-empty.
	URL string `yaml:"url"`
	// MaxConns is the size of the connection pool, >= 1. Default 8.
	MaxConns int `yaml:"max_conns"`
}

// RedactedURL returns URL with any password replaced by "xxxxx", for logs.
// A string that does not parse as a URL is returned as "(unparsable)".
func (d Database) RedactedURL() string {
	u, err := url.Parse(d.URL)
	if err != nil || u.Scheme == "" {
		return "(unparsable)"
	}
	return u.Redacted()
}

// Dispatch is the "dispatch" section, used by the master.
type Dispatch struct {
	// PollInterval is how often the master calls ReportIdleWorker on each
	// assistant (jittered). Default 1s.
	PollInterval Duration `yaml:"poll_interval"`
	// PollTimeout is the deadline of one ReportIdleWorker call; it must be
	// shorter than PollInterval. Default 500ms.
	PollTimeout Duration `yaml:"poll_timeout"`
	// DownAfter: an assistant that has answered no poll for DownAfter poll
	// intervals (from the last answered one) is marked down and its leases
	// released, >= 1. Default 3.
	DownAfter int `yaml:"down_after"`
	// BatchSize is the number of URLs in one Crawl batch, >= 1. Default 16.
	BatchSize int `yaml:"batch_size"`
	// BatchDuration is the wall time a batch should take. Batches hold
	// fewer than BatchSize URLs when the assistant's recent URLs took
	// longer than BatchDuration/BatchSize each, so a slow URL holds few
	// others behind it and the end of a crawl is not a queue of long
	// batches. 0 disables it (always BatchSize). Default 1s.
	BatchDuration Duration `yaml:"batch_duration"`
	// PrefetchBatches is the number of ready (leased) batches the master
	// keeps per assistant beyond its idle slots, >= 0. 0 means automatic:
	// slots/2; see [Dispatch.PrefetchFor]. Default 0.
	PrefetchBatches int `yaml:"prefetch_batches"`
	// LeaseDuration is how long a leased URL stays assigned before the
	// rescuer returns it to pending. Must exceed fetch.timeout. Default 5m.
	LeaseDuration Duration `yaml:"lease_duration"`
	// RescueInterval is how often expired leases are looked for. Default 30s.
	RescueInterval Duration `yaml:"rescue_interval"`
	// ProgressInterval is how often the master logs crawl progress.
	// Default 5s.
	ProgressInterval Duration `yaml:"progress_interval"`
	// ShutdownGrace is how long the master waits for in-flight batches on
	// shutdown before cancelling them, >= 0. Default 30s.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
}

// PrefetchFor returns the number of prefetched batches to keep for an
// assistant with the given slot count: PrefetchBatches, or slots/2 when
// PrefetchBatches is 0.
func (d Dispatch) PrefetchFor(slots int) int {
	if d.PrefetchBatches > 0 {
		return d.PrefetchBatches
	}
	return slots / 2
}

// Retry is the "retry" section, used by the master: a URL whose fetch
// failed with a retryable error is tried again after an exponential backoff
// of BaseDelay * 2^(attempt-1), capped at MaxDelay, randomised by ±Jitter.
type Retry struct {
	// MaxAttempts is the number of fetch attempts of a URL, including the
	// first, before it is marked failed, >= 1. Default 3.
	MaxAttempts int `yaml:"max_attempts"`
	// BaseDelay is the delay before the first retry. Default 30s.
	BaseDelay Duration `yaml:"base_delay"`
	// MaxDelay caps the backoff; must be >= BaseDelay. Default 1h.
	MaxDelay Duration `yaml:"max_delay"`
	// Jitter is the relative randomisation of each delay, in [0, 1].
	// Default 0.2 (±20%).
	Jitter float64 `yaml:"jitter"`
}

// Persist is the "persist" section, used by the master's result writer.
type Persist struct {
	// BatchSize is the number of results written per database round trip,
	// >= 1. Default 1000.
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is the longest a result waits before being written even
	// if the batch is not full. Default 200ms.
	FlushInterval Duration `yaml:"flush_interval"`
	// Buffer is the number of results held in memory before the master stops
	// reading result streams (back-pressure), >= BatchSize. Default 20000.
	Buffer int `yaml:"buffer"`
	// StoreBodies stores response bodies (truncated to StoredBodyCap) when
	// true; only metadata when false. Default true.
	StoreBodies bool `yaml:"store_bodies"`
	// StoredBodyCap is the most bytes of a body stored. Default 256KiB.
	StoredBodyCap ByteSize `yaml:"stored_body_cap"`
}

// Fetch is the "fetch" section, used by the assistants.
type Fetch struct {
	// UserAgent is sent with every request and matched against robots.txt
	// groups. Default DefaultUserAgent.
	UserAgent string `yaml:"user_agent"`
	// ConnectTimeout bounds DNS + TCP + TLS setup; <= Timeout. Default 5s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// Timeout bounds one whole page fetch including redirects and the body.
	// Default 15s.
	Timeout Duration `yaml:"timeout"`
	// RobotsTimeout bounds one robots.txt fetch. Default 10s.
	RobotsTimeout Duration `yaml:"robots_timeout"`
	// MaxRedirects is the number of redirects followed, 0..100; 0 follows
	// none. Default 5.
	MaxRedirects int `yaml:"max_redirects"`
	// BodyCap is the most bytes of a page body read. Default 1MiB.
	BodyCap ByteSize `yaml:"body_cap"`
	// RobotsCap is the most bytes of a robots.txt read. Default 512KiB.
	RobotsCap ByteSize `yaml:"robots_cap"`
	// RobotsTTL is how long a fetched robots.txt is cached. Default 1h.
	RobotsTTL Duration `yaml:"robots_ttl"`
	// RobotsErrorTTL is how long a failed robots.txt fetch is cached before
	// retrying. Default 5m.
	RobotsErrorTTL Duration `yaml:"robots_error_ttl"`
	// RobotsCacheSize is the number of hosts whose robots.txt is cached,
	// >= 1. Default 10000.
	RobotsCacheSize int `yaml:"robots_cache_size"`
	// DefaultDelay is the pause between two requests to the same host when
	// robots.txt sets no Crawl-delay, >= 0. Default 1s.
	DefaultDelay Duration `yaml:"default_delay"`
	// MaxCrawlDelay caps a robots.txt Crawl-delay; >= DefaultDelay.
	// Default 30s.
	MaxCrawlDelay Duration `yaml:"max_crawl_delay"`
	// Resolve overrides DNS: each entry is "PATTERN=IP:PORT" where PATTERN
	// is an exact host, "*.suffix" (any subdomain of suffix) or "*" (every
	// host). The first matching rule wins. Empty (default) uses real DNS.
	// See [ParseResolveRule] and [Fetch.ResolveRules].
	Resolve []string `yaml:"resolve"`
	// ShutdownGrace is how long an assistant lets in-flight batches finish
	// on shutdown before cancelling them, >= 0. Default 30s.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	// MemoryLimit is the assistant's soft memory limit (Go's runtime
	// garbage collector works harder as the heap nears it); 0 means none.
	// The GOMEMLIMIT environment variable, when set, wins. Default 80MiB.
	MemoryLimit ByteSize `yaml:"memory_limit"`
}

// ResolveRules parses fetch.resolve with the crawl library's parser (the
// one the fetcher uses, so validation and behaviour cannot drift apart).
func (f Fetch) ResolveRules() ([]crawl.ResolveRule, error) {
	rules := make([]crawl.ResolveRule, 0, len(f.Resolve))
	for i, s := range f.Resolve {
		r, err := crawl.ParseResolveRule(s)
		if err != nil {
			return nil, fmt.Errorf("fetch.resolve[%d]: %w", i, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// Log is the "log" section, used by both daemons.
type Log struct {
	// Format is "text" (logfmt-like, default) or "json".
	Format string `yaml:"format"`
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `yaml:"level"`
}

// SlogLevel returns Level as a slog.Level (info for an unknown level).
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Metrics is the "metrics" section, used by both daemons' admin servers.
type Metrics struct {
	// Pprof mounts /debug/pprof on the admin servers when true.
	// Default false.
	Pprof bool `yaml:"pprof"`
}

// Default returns a Config holding every default. It has no assistants and
// no manager port, so it does not pass Validate until those are set.
func Default() *Config {
	return &Config{
		RPC: RPC{
			Manager: Manager{Address: DefaultManagerAddress},
		},
		Database: Database{
			URL:      DefaultDatabaseURL,
			MaxConns: DefaultDatabaseMaxConns,
		},
		Dispatch: Dispatch{
			PollInterval:     Duration(DefaultPollInterval),
			PollTimeout:      Duration(DefaultPollTimeout),
			DownAfter:        DefaultDownAfter,
			BatchSize:        DefaultDispatchBatch,
			BatchDuration:    Duration(DefaultBatchDuration),
			PrefetchBatches:  DefaultPrefetchBatches,
			LeaseDuration:    Duration(DefaultLeaseDuration),
			RescueInterval:   Duration(DefaultRescueInterval),
			ProgressInterval: Duration(DefaultProgressInterval),
			ShutdownGrace:    Duration(DefaultShutdownGrace),
		},
		Retry: Retry{
			MaxAttempts: DefaultRetryMaxAttempts,
			BaseDelay:   Duration(DefaultRetryBaseDelay),
			MaxDelay:    Duration(DefaultRetryMaxDelay),
			Jitter:      DefaultRetryJitter,
		},
		Persist: Persist{
			BatchSize:     DefaultPersistBatch,
			FlushInterval: Duration(DefaultFlushInterval),
			Buffer:        DefaultPersistBuffer,
			StoreBodies:   DefaultStoreBodies,
			StoredBodyCap: DefaultStoredBodyCap,
		},
		Fetch: Fetch{
			UserAgent:       DefaultUserAgent,
			ConnectTimeout:  Duration(DefaultConnectTimeout),
			Timeout:         Duration(DefaultFetchTimeout),
			RobotsTimeout:   Duration(DefaultRobotsTimeout),
			MaxRedirects:    DefaultMaxRedirects,
			BodyCap:         DefaultBodyCap,
			RobotsCap:       DefaultRobotsCap,
			RobotsTTL:       Duration(DefaultRobotsTTL),
			RobotsErrorTTL:  Duration(DefaultRobotsErrorTTL),
			RobotsCacheSize: DefaultRobotsCacheSize,
			DefaultDelay:    Duration(DefaultDelay),
			MaxCrawlDelay:   Duration(DefaultMaxCrawlDelay),
			Resolve:         nil,
			ShutdownGrace:   Duration(DefaultShutdownGrace),
			MemoryLimit:     DefaultMemoryLimit,
		},
		Log: Log{
			Format: DefaultLogFormat,
			Level:  DefaultLogLevel,
		},
		Metrics: Metrics{Pprof: false},
	}
}

// Assistant returns the assistant whose ID() is id, its index in
// RPC.Assistants, and whether it was found.
func (c *Config) Assistant(id string) (Assistant, int, bool) {
	for i, a := range c.RPC.Assistants {
		if a.ID() == id {
			return a, i, true
		}
	}
	return Assistant{}, -1, false
}

// TotalSlots returns the sum of the assistants' worker slots.
func (c *Config) TotalSlots() int {
	n := 0
	for _, a := range c.RPC.Assistants {
		n += int(a.Workers)
	}
	return n
}

// applyDerived fills the defaults that depend on other values.
func (c *Config) applyDerived() {
	for i := range c.RPC.Assistants {
		a := &c.RPC.Assistants[i]
		if a.MetricsPort == 0 && a.Port > 0 && a.Port+DefaultMetricsPortDelta <= maxPort {
			a.MetricsPort = a.Port + DefaultMetricsPortDelta
		}
	}
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
