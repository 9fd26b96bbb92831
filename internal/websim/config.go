package websim

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
)

// Defaults applied by [DefaultConfig] and, for zero fields, by [New].
const (
	// DefaultAddr is the listen address used when Config.Addr is empty.
	DefaultAddr = "127.0.0.1:0"
	// DefaultHangFor is how long hanging endpoints stall when Config.HangFor is zero.
	DefaultHangFor = 60 * time.Second
	// DefaultHugeBodySize is the body size of "huge" home pages when Config.HugeBodySize is zero.
	DefaultHugeBodySize = 3 << 20
	// DefaultRobotsSlowDelay is the delay of "slow" robots.txt when Config.RobotsSlowDelay is zero.
	DefaultRobotsSlowDelay = 300 * time.Millisecond
	// DefaultLatencyMax caps drawn latencies when Config.LatencyMax is zero.
	DefaultLatencyMax = 2 * time.Second
	// DefaultCoverageWindow is the number of leading ranks in which every kind
	// with a non-zero fraction is guaranteed to appear.
	DefaultCoverageWindow = 2000
)

// Config describes a synthetic web. Start from [DefaultConfig] and change
// what you need. Zero values of Addr, HangFor, HugeBodySize, RobotsSlowDelay,
// LatencyMax and CoverageWindow are replaced by their defaults in [New];
// Fractions is used as given (the zero Fractions makes every domain a plain
// 200 page with an allow-all robots.txt).
type Config struct {
	// Domains is the number of domains, ranks 1..Domains. Required (>= 1).
	Domains int
	// Seed selects the deterministic universe: the same (Seed, Domains,
	// Fractions, CoverageWindow) always yields the same domains and profiles.
	Seed int64
	// Addr is the TCP listen address; default "127.0.0.1:0".
	Addr string

	// LatencyMedian is the median of the per-request log-normal latency
	// added before answering any request. 0 (the default) answers at once.
	LatencyMedian time.Duration
	// LatencySigma is the sigma (standard deviation of the underlying
	// normal) of the latency distribution; 0 makes every latency equal to
	// LatencyMedian.
	LatencySigma float64
	// LatencyMax caps every drawn latency (default 2s). The ground truth
	// assumes the crawler's page timeout exceeds LatencyMax+RobotsSlowDelay.
	LatencyMax time.Duration

	// HangFor is how long "hang" endpoints stall before answering (default
	// 60s). It must exceed the crawler's page timeout. Hangs also end when
	// the client disconnects or the Sim is closed.
	HangFor time.Duration
	// HugeBodySize is the exact body size of "huge" home pages (default
	// 3 MiB); it should exceed the crawler's body cap. Bodies are streamed.
	HugeBodySize int64
	// RobotsSlowDelay is the delay of "slow" robots.txt (default 300ms),
	// which must stay below the crawler's timeout.
	RobotsSlowDelay time.Duration

	// Fractions gives the share of each profile kind.
	Fractions Fractions
	// CoverageWindow: every kind with a non-zero fraction is guaranteed to
	// occur (with an outcome not masked by another kind) among ranks
	// 1..min(Domains, CoverageWindow), by deterministically re-assigning a
	// few plain domains. Default 2000; negative disables the guarantee.
	CoverageWindow int

	// Sites makes some domains sites with a link graph (see [SiteConfig]);
	// the zero value makes none, and every domain serves its home page
	// alone as without sites.
	Sites SiteConfig

	// TimelineSize, when > 0, records the start and end of the last
	// TimelineSize requests of every served host ([Sim.HostTimeline]).
	// 0 (the default) records nothing.
	TimelineSize int

	// GzipBomb serves [GzipBombPath] on every served domain: a gzip stream
	// of about 1 MiB that decompresses to 1 GiB. Off by default (the path
	// answers 404); the ground truth does not depend on it.
	GzipBomb bool

	// Changing serves pages whose content changes on a schedule, with ETag
	// and Last-Modified and conditional requests (see [ChangingConfig]).
	// Off by default; the ground truth does not depend on it.
	Changing ChangingConfig

	// Logger receives lifecycle logs (component=websim). Nil discards.
	Logger *slog.Logger
}

// Fractions gives the share of domains of each profile kind, each in [0,1].
// Home-page kinds and robots.txt kinds are drawn independently; plain 200
// home pages ([HomeOK]) take the remainder 1-sum of the home fields, and an
// allow-all robots.txt ([RobotsAllowAll]) the remainder of the robots fields.
// Each field's name for [Fractions.Set] is given in its comment.
type Fractions struct {
	// Redirect ("redirect"): 1-3 hops of 301/302/307/308, same host or to
	// the www. host, ending in a 200 page.
	Redirect float64
	// RedirectLoop ("redirect_loop"): / redirects to itself forever.
	RedirectLoop float64
	// RedirectDisallowed ("redirect_disallowed"): / redirects into
	// /private/, which the domain's robots.txt disallows; such domains
	// always get a [RobotsDisallowSome] robots.txt.
	RedirectDisallowed float64
	// NotFound ("not_found"): / answers 404.
	NotFound float64
	// Gone ("gone"): / answers 410.
	Gone float64
	// ServerError ("server_error"): / always answers 500.
	ServerError float64
	// Unavailable ("unavailable"): / always answers 503 with Retry-After: 1.
	Unavailable float64
	// Flaky ("flaky"): the first request of / on the host answers 503, later
	// ones 200.
	Flaky float64
	// TooManyRequests ("too_many_requests"): / always answers 429 with
	// Retry-After: 1.
	TooManyRequests float64
	// Hang ("hang"): / sends nothing for HangFor.
	Hang float64
	// Huge ("huge"): / streams a HugeBodySize HTML body (title at the start).
	Huge float64
	// JSON ("json"): / is application/json.
	JSON float64
	// PNG ("png"): / is image/png.
	PNG float64
	// BrokenHTML ("broken_html"): / is HTML with unclosed tags (title intact).
	BrokenHTML float64
	// Latin1 ("latin1"): / is ISO-8859-1 (declared in the Content-Type
	// header) with a non-ASCII title.
	Latin1 float64
	// EUCKR ("euc_kr"): / is EUC-KR (declared only by <meta charset>) with
	// a Korean title.
	EUCKR float64
	// UnknownHost ("unknown_host"): the domain is listed under .invalid
	// and not served at all.
	UnknownHost float64

	// RobotsDisallowAll ("robots_disallow_all"): "Disallow: /".
	RobotsDisallowAll float64
	// RobotsDisallowSome ("robots_disallow_some"): "Disallow: /private/".
	RobotsDisallowSome float64
	// RobotsCrawlDelay ("robots_crawl_delay"): allow all with "Crawl-delay: 1".
	RobotsCrawlDelay float64
	// RobotsNotFound ("robots_not_found"): robots.txt answers 404 (allow all).
	RobotsNotFound float64
	// RobotsServerError ("robots_server_error"): robots.txt always answers 500.
	RobotsServerError float64
	// RobotsSlow ("robots_slow"): allow-all robots.txt after RobotsSlowDelay.
	RobotsSlow float64
	// RobotsHang ("robots_hang"): robots.txt sends nothing for HangFor.
	RobotsHang float64
}

// DefaultFractions returns the default mix: about 77.5% plain home pages and
// 75% allow-all robots.txt; see the package documentation for the table.
func DefaultFractions() Fractions {
	return Fractions{
		Redirect:           0.10,
		RedirectLoop:       0.005,
		RedirectDisallowed: 0.005,
		NotFound:           0.02,
		Gone:               0.005,
		ServerError:        0.01,
		Unavailable:        0.005,
		Flaky:              0.01,
		TooManyRequests:    0.005,
		Hang:               0.005,
		Huge:               0.005,
		JSON:               0.005,
		PNG:                0.005,
		BrokenHTML:         0.01,
		Latin1:             0.005,
		EUCKR:              0.005,
		UnknownHost:        0.02,

		RobotsDisallowAll:  0.01,
		RobotsDisallowSome: 0.05,
		RobotsCrawlDelay:   0.02,
		RobotsNotFound:     0.15,
		RobotsServerError:  0.005,
		RobotsSlow:         0.01,
		RobotsHang:         0.005,
	}
}

// DefaultConfig returns a 1000-domain universe with seed 1, the default
// fractions, no added latency and every other field at its default.
func DefaultConfig() Config {
	return Config{
		Domains:         1000,
		Seed:            1,
		Addr:            DefaultAddr,
		LatencySigma:    1.0,
		LatencyMax:      DefaultLatencyMax,
		HangFor:         DefaultHangFor,
		HugeBodySize:    DefaultHugeBodySize,
		RobotsSlowDelay: DefaultRobotsSlowDelay,
		Fractions:       DefaultFractions(),
		CoverageWindow:  DefaultCoverageWindow,
		Sites:           DefaultSiteConfig(),
	}
}

// homeFields maps each non-OK home kind to its field.
func (f *Fractions) homeFields() [numHomeKinds]*float64 {
	var a [numHomeKinds]*float64
	a[HomeRedirect] = &f.Redirect
	a[HomeRedirectLoop] = &f.RedirectLoop
	a[HomeRedirectDisallowed] = &f.RedirectDisallowed
	a[HomeNotFound] = &f.NotFound
	a[HomeGone] = &f.Gone
	a[HomeServerError] = &f.ServerError
	a[HomeUnavailable] = &f.Unavailable
	a[HomeFlaky] = &f.Flaky
	a[HomeTooManyRequests] = &f.TooManyRequests
	a[HomeHang] = &f.Hang
	a[HomeHuge] = &f.Huge
	a[HomeJSON] = &f.JSON
	a[HomePNG] = &f.PNG
	a[HomeBrokenHTML] = &f.BrokenHTML
	a[HomeLatin1] = &f.Latin1
	a[HomeEUCKR] = &f.EUCKR
	a[HomeUnknownHost] = &f.UnknownHost
	return a
}

// robotsFields maps each non-allow-all robots kind to its field.
func (f *Fractions) robotsFields() [numRobotsKinds]*float64 {
	var a [numRobotsKinds]*float64
	a[RobotsDisallowAll] = &f.RobotsDisallowAll
	a[RobotsDisallowSome] = &f.RobotsDisallowSome
	a[RobotsCrawlDelay] = &f.RobotsCrawlDelay
	a[RobotsNotFound] = &f.RobotsNotFound
	a[RobotsServerError] = &f.RobotsServerError
	a[RobotsSlow] = &f.RobotsSlow
	a[RobotsHang] = &f.RobotsHang
	return a
}

// FractionNames lists the names accepted by [Fractions.Set]: the home kind
// names ("redirect", "hang", ...) and "robots_" + robots kind name.
func FractionNames() []string {
	var names []string
	var f Fractions
	for k, p := range f.homeFields() {
		if p != nil {
			names = append(names, HomeKind(k).String())
		}
	}
	for k, p := range f.robotsFields() {
		if p != nil {
			names = append(names, "robots_"+RobotsKind(k).String())
		}
	}
	return names
}

// Set sets the fraction called name (see [FractionNames]) to v.
func (f *Fractions) Set(name string, v float64) error {
	if math.IsNaN(v) || v < 0 || v > 1 {
		return fmt.Errorf("fraction %s=%v: must be in [0,1]", name, v)
	}
	if rest, ok := strings.CutPrefix(name, "robots_"); ok {
		for k, p := range f.robotsFields() {
			if p != nil && RobotsKind(k).String() == rest {
				*p = v
				return nil
			}
		}
	}
	for k, p := range f.homeFields() {
		if p != nil && HomeKind(k).String() == name {
			*p = v
			return nil
		}
	}
	return fmt.Errorf("unknown fraction %q (known: %s)", name, strings.Join(FractionNames(), ", "))
}

// Validate reports whether every fraction is in [0,1] and each group
// (home kinds, robots kinds) sums to at most 1.
func (f *Fractions) Validate() error {
	check := func(group string, fields []*float64, names func(int) string) error {
		sum := 0.0
		for k, p := range fields {
			if p == nil {
				continue
			}
			if math.IsNaN(*p) || *p < 0 || *p > 1 {
				return fmt.Errorf("fraction %s=%v: must be in [0,1]", names(k), *p)
			}
			sum += *p
		}
		if sum > 1+1e-9 {
			return fmt.Errorf("%s fractions sum to %.6f > 1", group, sum)
		}
		return nil
	}
	h := f.homeFields()
	if err := check("home page", h[:], func(k int) string { return HomeKind(k).String() }); err != nil {
		return err
	}
	r := f.robotsFields()
	return check("robots.txt", r[:], func(k int) string { return "robots_" + RobotsKind(k).String() })
}

// withDefaults validates c and fills zero fields with defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Domains < 1 {
		return c, fmt.Errorf("websim: Domains must be >= 1, got %d", c.Domains)
	}
	if c.Domains > 1<<40 {
		return c, fmt.Errorf("websim: Domains %d too large", c.Domains)
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.LatencyMedian < 0 {
		return c, errors.New("websim: LatencyMedian must be >= 0")
	}
	if math.IsNaN(c.LatencySigma) || c.LatencySigma < 0 || c.LatencySigma > 10 {
		return c, fmt.Errorf("websim: LatencySigma must be in [0,10], got %v", c.LatencySigma)
	}
	if c.LatencyMax < 0 {
		return c, errors.New("websim: LatencyMax must be >= 0")
	}
	if c.LatencyMax == 0 {
		c.LatencyMax = DefaultLatencyMax
	}
	if c.HangFor < 0 {
		return c, errors.New("websim: HangFor must be >= 0")
	}
	if c.HangFor == 0 {
		c.HangFor = DefaultHangFor
	}
	if c.HugeBodySize < 0 {
		return c, errors.New("websim: HugeBodySize must be >= 0")
	}
	if c.HugeBodySize == 0 {
		c.HugeBodySize = DefaultHugeBodySize
	}
	if c.RobotsSlowDelay < 0 {
		return c, errors.New("websim: RobotsSlowDelay must be >= 0")
	}
	if c.RobotsSlowDelay == 0 {
		c.RobotsSlowDelay = DefaultRobotsSlowDelay
	}
	if c.CoverageWindow == 0 {
		c.CoverageWindow = DefaultCoverageWindow
	}
	if err := c.Fractions.Validate(); err != nil {
		return c, fmt.Errorf("websim: %w", err)
	}
	if err := c.Sites.withDefaults(); err != nil {
		return c, fmt.Errorf("websim: %w", err)
	}
	if err := c.Changing.withDefaults(); err != nil {
		return c, fmt.Errorf("websim: %w", err)
	}
	if c.TimelineSize < 0 {
		return c, errors.New("websim: TimelineSize must be >= 0")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Logger = c.Logger.With("component", "websim")
	return c, nil
}
