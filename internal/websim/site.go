package websim

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Site defaults, applied by [DefaultSiteConfig] and, for zero fields, by [New].
const (
	// DefaultSitePagesMean is the mean number of regular pages per site.
	DefaultSitePagesMean = 50
	// DefaultSitePagesSigma is the log-normal sigma of the page count.
	DefaultSitePagesSigma = 1.0
	// DefaultSitePagesMax caps the regular pages of one site.
	DefaultSitePagesMax = 1000
	// MaxSitePages is the largest PagesMax accepted.
	MaxSitePages = 1 << 20
	// siteFanout is the number of tree children of a page (and of the home
	// page): page j >= siteFanout hangs below page j/siteFanout-1.
	siteFanout = 8
)

// SiteConfig makes some domains sites: a home page linking a deterministic
// graph of pages (see the package documentation). The zero value makes no
// site. Only domains whose home page is a stable HTML page (home kinds ok,
// broken_html, latin1, euc_kr) can be sites; the others keep their home
// page alone, exactly as without sites.
type SiteConfig struct {
	// Fraction is the share of site-eligible domains that are sites, in
	// [0,1], drawn per rank from (Seed, rank); 1 makes every eligible
	// domain a site.
	Fraction float64
	// Count, when > 0, makes the first Count eligible ranks sites instead
	// (Fraction must then be 0).
	Count int

	// PagesMean is the mean number of regular pages per site (default 50);
	// the number of each site is drawn from a log-normal distribution with
	// this mean and sigma PagesSigma, rounded, at least 1, at most PagesMax.
	PagesMean float64
	// PagesSigma is the log-normal sigma of the page count, used as given:
	// 0 gives every site round(PagesMean) pages, 1 ([DefaultSiteConfig]) a
	// long tail (median 0.61 x mean, 1 site in 20 above 2.3 x mean).
	PagesSigma float64
	// PagesMax caps the regular pages of one site (default 1000, at most
	// [MaxSitePages]).
	PagesMax int

	// Without lists the features left out of every site; the zero value
	// keeps them all. See [SiteFeatures].
	Without SiteFeatures

	// CrawlDelay, when > 0, is the Crawl-delay every site's robots.txt
	// advertises (rounded to milliseconds); otherwise only sites with the
	// robots_crawl_delay kind advertise one (1s), like plain domains.
	CrawlDelay time.Duration
}

// DefaultSiteConfig returns the default page-count distribution (mean 50,
// sigma 1, max 1000) with every feature and no site: set Fraction or Count.
func DefaultSiteConfig() SiteConfig {
	return SiteConfig{PagesMean: DefaultSitePagesMean, PagesSigma: DefaultSitePagesSigma, PagesMax: DefaultSitePagesMax}
}

// Enabled reports whether the configuration makes any site.
func (c *SiteConfig) Enabled() bool { return c.Fraction > 0 || c.Count > 0 }

func (c *SiteConfig) withDefaults() error {
	switch {
	case math.IsNaN(c.Fraction) || c.Fraction < 0 || c.Fraction > 1:
		return fmt.Errorf("site fraction %v: must be in [0,1]", c.Fraction)
	case c.Count < 0:
		return fmt.Errorf("site count %d: must be >= 0", c.Count)
	case c.Count > 0 && c.Fraction > 0:
		return errors.New("set either the site fraction or the site count, not both")
	case math.IsNaN(c.PagesMean) || c.PagesMean < 0 || c.PagesMean > MaxSitePages:
		return fmt.Errorf("site pages mean %v: must be in [1,%d]", c.PagesMean, MaxSitePages)
	case math.IsNaN(c.PagesSigma) || c.PagesSigma < 0 || c.PagesSigma > 4:
		return fmt.Errorf("site pages sigma %v: must be in [0,4]", c.PagesSigma)
	case c.PagesMax < 0 || c.PagesMax > MaxSitePages:
		return fmt.Errorf("site pages max %d: must be in [1,%d]", c.PagesMax, MaxSitePages)
	case c.CrawlDelay < 0:
		return errors.New("site crawl delay must be >= 0")
	case c.Without&^allFeatures != 0:
		return fmt.Errorf("unknown site features %#x", uint32(c.Without&^allFeatures))
	}
	if c.PagesMean == 0 {
		c.PagesMean = DefaultSitePagesMean
	}
	if c.PagesMean < 1 {
		return fmt.Errorf("site pages mean %v: must be in [1,%d]", c.PagesMean, MaxSitePages)
	}
	if c.PagesMax == 0 {
		c.PagesMax = DefaultSitePagesMax
	}
	return nil
}

// SiteFeatures is a set of site features: link forms, page kinds and traps
// that every site has unless left out by [SiteConfig.Without]. The package
// documentation lists the paths and links of each.
type SiteFeatures uint32

// Site features.
const (
	FeatureForms      SiteFeatures = 1 << iota // "forms": links that normalise to one URL, /links.html, the www alias
	FeatureQuery                               // "query": /search pages, parameter order, &amp;
	FeatureMembers                             // "members": a robots.txt-disallowed, linked /members/ subtree
	FeatureSessions                            // "sessions": /shop/, fresh session ids in every link (trap)
	FeatureCalendar                            // "calendar": /cal/YYYY/MM/, endless months (trap)
	FeatureRepeat                              // "repeat": /loop/en/ linking en/ (repeated segments trap)
	FeatureDeep                                // "deep": /deep/..., 7 more segments per link (path segments trap)
	FeatureLongURL                             // "longurl": /grow/..., the URL doubles per link (length trap)
	FeatureBigPage                             // "bigpage": /big/links.html with 1,500 links
	FeatureBase                                // "base": <base href>
	FeatureRobotsMeta                          // "robotsmeta": meta robots and X-Robots-Tag pages
	FeatureFrames                              // "frames": <iframe>, <frame>, <area>
	FeatureResources                           // "resources": linked PDF, PNG, JSON
	FeatureRedirects                           // "redirects": 301/302/307/308 inside the site
	FeatureDeadLinks                           // "deadlinks": links answering 404 and 410
	FeatureNofollow                            // "nofollow": pages linked only with rel=nofollow
	FeatureCrossSite                           // "crosssite": links to other websim domains and unknown hosts
	FeatureSitemaps                            // "sitemaps": sitemap files, pages only they list
	FeatureJunk                                // "junk": mailto:, javascript:, comments, <img>, <link>, <script>

	numFeatures = iota // the number of features
)

// allFeatures is the set of every feature.
const allFeatures SiteFeatures = 1<<numFeatures - 1

var featureNames = [numFeatures]string{
	"forms", "query", "members", "sessions", "calendar", "repeat", "deep", "longurl", "bigpage",
	"base", "robotsmeta", "frames", "resources", "redirects", "deadlinks", "nofollow", "crosssite",
	"sitemaps", "junk",
}

// SiteFeatureNames lists the names of the features, as [ParseSiteFeatures] takes them.
func SiteFeatureNames() []string { return append([]string(nil), featureNames[:]...) }

// String returns the features' names joined by commas ("" for none).
func (f SiteFeatures) String() string {
	var names []string
	for i, n := range featureNames {
		if f&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// ParseSiteFeatures reads a feature list and returns the features it leaves
// out (for [SiteConfig.Without]): "all" (or "") keeps every feature, "none"
// none; "a,b" keeps only a and b; "-a,-b" keeps all but a and b.
func ParseSiteFeatures(spec string) (without SiteFeatures, err error) {
	spec = strings.TrimSpace(spec)
	switch spec {
	case "", "all":
		return 0, nil
	case "none":
		return allFeatures, nil
	}
	var keep, drop SiteFeatures
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		neg := strings.HasPrefix(name, "-")
		name = strings.TrimPrefix(name, "-")
		bit := SiteFeatures(0)
		for i, n := range featureNames {
			if n == name {
				bit = 1 << i
			}
		}
		if bit == 0 {
			return 0, fmt.Errorf("unknown site feature %q (known: %s)", name, strings.Join(featureNames[:], ", "))
		}
		if neg {
			drop |= bit
		} else {
			keep |= bit
		}
	}
	if keep != 0 && drop != 0 {
		return 0, errors.New("site features: give either names to keep or -names to leave out, not both")
	}
	if keep != 0 {
		return allFeatures &^ keep, nil
	}
	return drop, nil
}

// ParseSites reads the --sites value: "all" (every eligible domain), "none"
// or "0", a fraction ("0.3", "30%") or a count ("500": the first 500
// eligible ranks). It sets Fraction or Count of c.
func ParseSites(spec string, c *SiteConfig) error {
	spec = strings.TrimSpace(spec)
	c.Fraction, c.Count = 0, 0
	switch {
	case spec == "all":
		c.Fraction = 1
		return nil
	case spec == "none" || spec == "0":
		return nil
	case strings.HasSuffix(spec, "%"):
		v, err := strconv.ParseFloat(strings.TrimSuffix(spec, "%"), 64)
		if err != nil || v < 0 || v > 100 {
			return fmt.Errorf("sites %q: want a percentage in [0,100]", spec)
		}
		c.Fraction = v / 100
		return nil
	case strings.ContainsAny(spec, ".eE"):
		v, err := strconv.ParseFloat(spec, 64)
		if err != nil || v < 0 || v > 1 {
			return fmt.Errorf("sites %q: want a fraction in [0,1]", spec)
		}
		c.Fraction = v
		return nil
	}
	n, err := strconv.Atoi(spec)
	if err != nil || n < 0 {
		return fmt.Errorf("sites %q: want all, none, a fraction (0.3, 30%%) or a count (500)", spec)
	}
	c.Count = n
	return nil
}

// ParseSitePages reads the --site-pages value into c: a mean ("50") or
// comma-separated mean=, sigma= and max= ("mean=50,sigma=1,max=2000").
func ParseSitePages(spec string, c *SiteConfig) error {
	spec = strings.TrimSpace(spec)
	if v, err := strconv.ParseFloat(spec, 64); err == nil {
		c.PagesMean = v
		return nil
	}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return fmt.Errorf("site pages %q: want MEAN or mean=M,sigma=S,max=N", spec)
		}
		switch k {
		case "mean":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("site pages mean %q: not a number", v)
			}
			c.PagesMean = f
		case "sigma":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("site pages sigma %q: not a number", v)
			}
			c.PagesSigma = f
		case "max":
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("site pages max %q: not an integer", v)
			}
			c.PagesMax = n
		default:
			return fmt.Errorf("site pages: unknown key %q (mean, sigma, max)", k)
		}
	}
	return nil
}

// SitemapKind says how a site publishes its sitemap.
type SitemapKind uint8

// Sitemap kinds, drawn per site. Every kind lists the same entries (see
// the package documentation); they differ in where a crawler finds them.
const (
	SitemapRobots   SitemapKind = iota // robots.txt "Sitemap: http://<d>/sitemap.xml"
	SitemapIndex                       // robots.txt names /sitemap_index.xml: a plain and a gzip child; /sitemap.xml lists only a decoy
	SitemapFallback                    // robots.txt names none: /sitemap.xml
	SitemapGzip                        // robots.txt names /sitemap.xml.gz; /sitemap.xml is 404
	numSitemapKinds
)

var sitemapKindNames = [numSitemapKinds]string{"robots", "index", "fallback", "gzip"}

// String returns the kind's name.
func (k SitemapKind) String() string {
	if k < numSitemapKinds {
		return sitemapKindNames[k]
	}
	return "SitemapKind(" + strconv.Itoa(int(k)) + ")"
}

// SiteInfo describes one site.
type SiteInfo struct {
	Rank   int
	Domain string
	// Pages is the number of regular pages /s<i/10>/p<i>.html, i < Pages.
	Pages   int
	Sitemap SitemapKind
	// CrawlDelay is the Crawl-delay its robots.txt advertises (0: none).
	CrawlDelay time.Duration
	// Calendar is the path of the calendar month the home page links.
	Calendar string
	// Features are the features the site has.
	Features SiteFeatures
}

// siteEligible reports whether a domain with home kind k can be a site: its
// home page must be a stable 200 HTML page that can carry links.
func siteEligible(k HomeKind) bool {
	switch k {
	case HomeOK, HomeBrokenHTML, HomeLatin1, HomeEUCKR:
		return true
	}
	return false
}

// computeSiteLimit finds, in count mode, the rank of the Count-th eligible
// domain: eligible ranks up to it are sites.
func (s *Sim) computeSiteLimit() {
	c := &s.cfg.Sites
	if c.Count <= 0 {
		return
	}
	n := 0
	for r := 1; r <= s.cfg.Domains; r++ {
		h, _ := s.kinds(r)
		if siteEligible(h) {
			n++
			if n == c.Count {
				s.siteLimit = r
				return
			}
		}
	}
	s.siteLimit = s.cfg.Domains
}

// isSite reports whether rank, of home kind home, is a site.
func (s *Sim) isSite(rank int, home HomeKind) bool {
	c := &s.cfg.Sites
	if !c.Enabled() || !siteEligible(home) {
		return false
	}
	if c.Count > 0 {
		return rank <= s.siteLimit
	}
	return c.Fraction >= 1 || unit(s.hash(rank, saltSite)) < c.Fraction
}

// sitePages draws the number of regular pages of a site.
func (s *Sim) sitePages(rank int) int {
	c := &s.cfg.Sites
	v := c.PagesMean
	if c.PagesSigma > 0 {
		h1 := s.hash(rank, saltSitePages)
		h2 := mix64(h1 ^ 0x5851f42d4c957f2d)
		u1 := (float64(h1>>11) + 0.5) / (1 << 53)
		z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*unit(h2))
		v = math.Exp(math.Log(c.PagesMean) - c.PagesSigma*c.PagesSigma/2 + c.PagesSigma*z)
	}
	n := int(math.Round(v))
	return max(1, min(n, c.PagesMax))
}

// Site returns the description of rank's site; ok is false when rank is
// not a site.
func (s *Sim) Site(rank int) (info SiteInfo, ok bool) {
	if rank < 1 || rank > s.cfg.Domains {
		return SiteInfo{}, false
	}
	p := s.profile(rank)
	if !p.site {
		return SiteInfo{}, false
	}
	y, m := s.calendarStart(rank)
	return SiteInfo{
		Rank: rank, Domain: p.domain(), Pages: int(p.pages), Sitemap: p.sitemap,
		CrawlDelay: s.crawlDelayOf(&p), Calendar: calPath(y, m), Features: allFeatures &^ s.cfg.Sites.Without,
	}, true
}

// Sites returns the ranks of all sites in order.
func (s *Sim) Sites() []int {
	var out []int
	if !s.cfg.Sites.Enabled() {
		return out
	}
	for r := 1; r <= s.cfg.Domains; r++ {
		h, _ := s.kinds(r)
		if s.isSite(r, h) {
			out = append(out, r)
		}
	}
	return out
}

// crawlDelayOf returns the Crawl-delay p's robots.txt advertises.
func (s *Sim) crawlDelayOf(p *profile) time.Duration {
	switch p.robots {
	case RobotsNotFound, RobotsServerError, RobotsHang, RobotsNone, RobotsDisallowAll:
		return 0
	}
	if p.site && s.cfg.Sites.CrawlDelay > 0 {
		return s.cfg.Sites.CrawlDelay.Round(time.Millisecond)
	}
	if p.robots == RobotsCrawlDelay {
		return time.Second
	}
	return 0
}

// CrawlDelay returns the Crawl-delay that host's robots.txt advertises (0
// for none, for unknown hosts and robots.txt that is not served with 200).
// A polite crawler waits at least this long between requests to the host.
func (s *Sim) CrawlDelay(host string) time.Duration {
	rank, _, tld, ok := s.parseHost(normalizeHost(host))
	if !ok || tld != ".test" {
		return 0
	}
	p := s.profile(rank)
	if p.home == HomeUnknownHost {
		return 0
	}
	return s.crawlDelayOf(&p)
}
