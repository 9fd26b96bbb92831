package config

import (
	"cmp"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
	"github.com/crawlmaster/crawlmaster/internal/yamlcheck"
	"github.com/crawlmaster/crawlmaster/master/retry"
)

// Config is the whole of rpc.yaml, read by both daemons.
type Config struct {
	RPC      RPC          `yaml:"rpc"`
	Database Database     `yaml:"database"` // the master's PostgreSQL
	Dispatch Dispatch     `yaml:"dispatch"` // how the master polls and feeds assistants
	Retry    retry.Policy `yaml:"retry"`    // how the master reschedules failed URLs
	Persist  Persist      `yaml:"persist"`  // how the master writes results
	Fetch    Fetch        `yaml:"fetch"`    // the assistants' fetching
	TLS      TLS          `yaml:"tls"`      // mutual TLS between master and assistants
	Log      Log          `yaml:"log"`
	Metrics  Metrics      `yaml:"metrics"` // the admin HTTP servers

	base string // the directory of the file loaded, for relative paths
}

// RPC is the "rpc" section, laid out as in the older Python system.
type RPC struct {
	Manager    Manager     `yaml:"manager"`
	Assistants []Assistant `yaml:"assistant"`
}

// Manager is rpc.manager.
type Manager struct {
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
}

// Addr returns "address:port" (IPv6 addresses in brackets), for net.Listen.
func (m Manager) Addr() string { return joinHostPort(m.Address, m.Port) }

// Assistant is one rpc.assistant[] entry. A MetricsPort of 0 stands for the
// default, Port+1000, which Load fills in.
type Assistant struct {
	Address     string  `yaml:"address"`
	Port        int     `yaml:"port"`
	Workers     Workers `yaml:"workers"`
	MetricsPort int     `yaml:"metrics_port"`
}

const metricsPortDelta = 1000

// ID returns "address:port", the gRPC dial target and [Config.Assistant] key.
func (a Assistant) ID() string { return joinHostPort(a.Address, a.Port) }

// EffectiveMetricsPort returns MetricsPort, or Port+1000 when it is 0.
func (a Assistant) EffectiveMetricsPort() int { return cmp.Or(a.MetricsPort, a.Port+metricsPortDelta) }

// Workers is an assistant's number of worker slots: a number in YAML or, in
// the old Python form, a non-empty list whose length is the count.
type Workers int

// UnmarshalYAML reads either form; see yamlcheck.TypeError on its errors.
func (w *Workers) UnmarshalYAML(n *yaml.Node) error {
	v := len(n.Content)
	switch {
	case n.Kind == yaml.SequenceNode && v == 0:
		return yamlcheck.TypeError(n, "empty list: give the number of worker slots, e.g. \"workers: 64\"")
	case n.Kind != yaml.SequenceNode && (n.ShortTag() != "!!int" || n.Decode(&v) != nil):
		return yamlcheck.TypeError(n, "expected a number of worker slots (or a list, old form), got %s", yamlcheck.Describe(n))
	}
	*w = Workers(v)
	return nil
}

// Database is the "database" section, used by the master only.
type Database struct {
	URL      string `yaml:"url"`
	MaxConns int    `yaml:"max_conns"`
}

// RedactedURL returns URL with any password replaced by "xxxxx", for logs.
// A string that does not parse as a URL is returned as "(unparsable)".
func (d Database) RedactedURL() string {
	if u, err := url.Parse(d.URL); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "(unparsable)"
}

// Dispatch is the "dispatch" section (PrefetchBatches 0: the dispatcher's choice).
type Dispatch struct {
	PollInterval     time.Duration `yaml:"poll_interval"`
	PollTimeout      time.Duration `yaml:"poll_timeout"`
	DownAfter        int           `yaml:"down_after"`
	BatchSize        int           `yaml:"batch_size"`
	BatchDuration    time.Duration `yaml:"batch_duration"`
	PrefetchBatches  int           `yaml:"prefetch_batches"`
	LeaseDuration    time.Duration `yaml:"lease_duration"`
	RescueInterval   time.Duration `yaml:"rescue_interval"`
	ProgressInterval time.Duration `yaml:"progress_interval"`
	ShutdownGrace    time.Duration `yaml:"shutdown_grace"`
}

// Persist is the "persist" section.
type Persist struct {
	BatchSize     int                  `yaml:"batch_size"`
	FlushInterval time.Duration        `yaml:"flush_interval"`
	Buffer        int                  `yaml:"buffer"`
	StoreBodies   bool                 `yaml:"store_bodies"`
	StoredBodyCap fetchconfig.ByteSize `yaml:"stored_body_cap"`
	MemoryLimit   fetchconfig.ByteSize `yaml:"memory_limit"` // the master's soft memory limit; 0: none
	// Retention is how long results are kept in crawls that set none;
	// 0 keeps them forever.
	Retention time.Duration `yaml:"retention"`
}

// Fetch is the "fetch" section: what the assistant hands to crawl.New, and more.
type Fetch struct {
	fetchconfig.Config `yaml:",inline"`
	ShutdownGrace      time.Duration        `yaml:"shutdown_grace"`
	MemoryLimit        fetchconfig.ByteSize `yaml:"memory_limit"` // 0: none
}

// TLS is the "tls" section: mutual TLS between the master and its
// assistants, on unless Plaintext.
type TLS struct {
	// Dir holds the CA and every daemon's certificate and key, named as
	// `master certs` writes them (mtls.FileSet); relative to the
	// directory of rpc.yaml. A daemon's --tls-* flags override its files.
	Dir string `yaml:"dir"`
	// MasterName is the identity the master's certificate carries and
	// assistants require.
	MasterName string `yaml:"master_name"`
	// ReloadInterval is how often the certificate files are checked for
	// changes (they are also reloaded on SIGHUP).
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// Plaintext turns TLS off: master and assistants then do not
	// authenticate each other (a warning at every start).
	Plaintext bool `yaml:"plaintext"`
	// PlaintextNetwork lets a plaintext assistant listen on an address
	// other than loopback.
	PlaintextNetwork bool `yaml:"plaintext_network"`
}

// TLSDir returns tls.dir, relative paths resolved against the directory
// of the file loaded (the working directory for a config not loaded from
// a file).
func (c *Config) TLSDir() string {
	if filepath.IsAbs(c.TLS.Dir) || c.base == "" {
		return c.TLS.Dir
	}
	return filepath.Join(c.base, c.TLS.Dir)
}

// Log is the "log" section.
type Log struct {
	Format string `yaml:"format"` // "text" or "json"
	Level  string `yaml:"level"`  // "debug", "info", "warn" or "error"
}

// Metrics is the "metrics" section.
type Metrics struct {
	Pprof bool `yaml:"pprof"`
}

// Default returns every default, the one place they are written (the fetch
// section's are fetchconfig.Default). It has no assistants nor manager port.
func Default() *Config {
	return &Config{
		RPC:      RPC{Manager: Manager{Address: "127.0.0.1"}},
		Database: Database{URL: "postgres://crawlmaster@127.0.0.1:15432/crawlmaster?sslmode=disable", MaxConns: 8},
		Dispatch: Dispatch{PollInterval: time.Second, PollTimeout: 500 * time.Millisecond, DownAfter: 3, BatchSize: 16, BatchDuration: time.Second,
			LeaseDuration: 5 * time.Minute, RescueInterval: 30 * time.Second, ProgressInterval: 5 * time.Second, ShutdownGrace: 30 * time.Second},
		Retry: retry.Policy{MaxAttempts: 3, BaseDelay: 30 * time.Second, MaxDelay: time.Hour, Jitter: 0.2},
		Persist: Persist{BatchSize: 1000, FlushInterval: 200 * time.Millisecond, Buffer: 20000, StoreBodies: true, StoredBodyCap: 256 * fetchconfig.KiB,
			MemoryLimit: 120 * fetchconfig.MiB},
		Fetch: Fetch{Config: fetchconfig.Default(), ShutdownGrace: 30 * time.Second, MemoryLimit: 80 * fetchconfig.MiB},
		TLS:   TLS{Dir: ".data/certs", MasterName: "crawlmaster-master", ReloadInterval: 10 * time.Second},
		Log:   Log{Format: "text", Level: "info"},
	}
}

// Assistant returns the assistant whose ID() is id, its index, and whether found.
func (c *Config) Assistant(id string) (Assistant, int, bool) {
	i := slices.IndexFunc(c.RPC.Assistants, func(a Assistant) bool { return a.ID() == id })
	if i < 0 {
		return Assistant{}, -1, false
	}
	return c.RPC.Assistants[i], i, true
}

func joinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
