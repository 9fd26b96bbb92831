package frontier

import "time"

// Crawl is a named set of seeds and the policy that decides which of the
// links found on its pages enter the frontier.
type Crawl struct {
	ID   int32
	Name string
	// Scope: ScopeHost (the seed's host), ScopeDomain (the seed's site,
	// subdomains included) or ScopeAny.
	Scope string
	// Allow and Deny are RE2 expressions on the normalised URL: a URL must
	// match one of Allow (when there is any) and none of Deny.
	Allow, Deny []string
	// MaxDepth is the deepest link distance from a seed that is crawled; 0
	// crawls the seeds only.
	MaxDepth int
	// SiteBudget is the most URLs admitted per site, seeds included.
	SiteBudget int
	// MaxLinks is the most outlinks read from one page.
	MaxLinks int
	// Guards against crawler traps.
	MaxURLLength        int
	MaxPathSegments     int
	MaxRepeatedSegments int
	// Sitemaps: read each seed's sitemaps (their URLs are depth 1).
	Sitemaps bool
	Paused   bool
	// Revisit says whether and when final URLs are fetched again.
	Revisit Revisit
	// Schedule makes the seeds due again at each tick.
	Schedule Schedule
	// Retention is how long results are kept; 0 follows the deployment's
	// retention.default.
	Retention time.Duration
	// Rounds counts the scheduled rounds started; NextRound is when the
	// next tick is due (zero when unscheduled).
	Rounds    int
	NextRound time.Time
}

// Scopes.
const (
	ScopeHost   = "host"
	ScopeDomain = "domain"
	ScopeAny    = "any"
)

// DefaultCrawlID is the crawl rows belong to when none is named: the URLs
// given, no discovery (max depth 0), as before named crawls existed.
const DefaultCrawlID = 1

// NewCrawl returns a crawl called name with the defaults of `master crawl
// create`: a site crawl of the seeds' registrable domains, three links
// deep. The guards' defaults are those of the crawlers that set them:
// URLs of at most 2,048 bytes (StormCrawler's and BUbiNG's order of
// magnitude), at most 20 path segments and no segment more than twice
// (Heritrix). A page yields at most 1,000 links: more than nearly every
// real page has, and a bound on a result's size and on what one page can
// add to the frontier.
func NewCrawl(name string) Crawl {
	return Crawl{Name: name, Scope: ScopeDomain, MaxDepth: 3, SiteBudget: 10000, MaxLinks: 1000,
		MaxURLLength: 2048, MaxPathSegments: 20, MaxRepeatedSegments: 2,
		Revisit: DefaultRevisit(RevisitNone), Schedule: Schedule{Overlap: OverlapSkip}}
}

// Discovers reports whether the crawl follows links at all.
func (c Crawl) Discovers() bool { return c.MaxDepth > 0 }
