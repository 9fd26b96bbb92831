package frontier

import (
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
)

// State is a frontier row's state.
type State string

// The frontier states. Pending and Leased are live; the other three are
// final.
const (
	StatePending State = "pending"
	StateLeased  State = "leased"
	StateDone    State = "done"
	StateFailed  State = "failed"
	StateDead    State = "dead"
)

// AllStates lists every state in display order.
var AllStates = []State{StatePending, StateLeased, StateDone, StateFailed, StateDead}

// Final reports whether s is a final state.
func (s State) Final() bool { return s == StateDone || s == StateFailed || s == StateDead }

// Task is one leased URL, as handed to an assistant.
type Task struct {
	URLID    int64
	Token    int64 // the lease's fencing token
	URL      string
	Domain   string // the URL's site (registrable domain): affinity and politeness key
	Shard    int16  // Shard(Domain), as stored on the row
	CrawlID  int32
	Depth    int16  // link distance from the seed
	SeedHost string // host of the seed the URL descends from (its own for a seed)
	// Attempts counts the URL's attempts including this one: the attempts
	// already counted on its row (results written, and pages requested by
	// batches that broke) plus one.
	Attempts int
	// Revisit is what the row keeps from earlier fetches (validators,
	// content hash, adaptive schedule); nil when it keeps nothing.
	Revisit *RevisitState
}

// Claim asks the store to lease pending URLs for one assistant.
type Claim struct {
	// Shards owned by the assistant; only their URLs are claimed.
	Shards []int16
	// Limit is the most URLs to claim, top-up included.
	Limit int
	// PerSite is the most URLs of one site a claim takes (of one crawl
	// and depth: the level the site's best due URL is at): the claim takes
	// the same sites in the same order as without it, up to PerSite URLs
	// of each, Limit in all (store.claimSites). The dispatcher sets it to
	// dispatch.batch_size, what one batch can take of a site. 0 or 1: the
	// best Limit URLs, however many of a site.
	PerSite int
	// Lease is how long the lease lasts before the rescuer may take it back.
	Lease time.Duration
	// Assistant is recorded on the rows for operators.
	Assistant string
	// Paused lists crawls whose URLs are not claimed.
	Paused []int32
	// AnyScope lists the crawls of scope any, which are claimed one level
	// (depth) at a time crawl-wide.
	AnyScope []int32
}

// Outcome is one result with the master's decision already made: the state
// the URL moves to and, for a retry, when it is due again. Final outcomes
// also become a results row.
type Outcome struct {
	URLID       int64
	Token       int64
	State       State     // pending (retry), done, failed or dead
	NextFetchAt time.Time // for State == pending

	URL           string
	FinalURL      string
	HTTPStatus    int32
	ContentType   string
	BodySize      int64
	BodyTruncated bool
	FetchDuration time.Duration
	Title         string
	ContentHash   []byte
	Class         errclass.Class
	Error         string
	Robots        string
	Redirects     int32
	Attempts      int32
	Assistant     string
	FetchedAt     time.Time
	Body          []byte // stored when State == done and non-empty
	CrawlID       int32
	Depth         int16
	NoIndex       bool // the page asked not to be indexed: no body stored
	// Links are the page's outlinks that passed the crawl's scope, guards
	// and depth, to be admitted to the frontier with the result (only if
	// its lease token is still current).
	Links []Link

	// NotModified: the server answered 304 to the conditional request.
	// Unchanged: the content equals the previous successful fetch's
	// (NotModified, or the same content hash); RefersTo is that fetch's
	// time.
	NotModified, Unchanged bool
	RefersTo               time.Time
	// RequestHead and ResponseHead are the fetch's heads as sent and
	// received (crawl.Result), stored with the result.
	RequestHead, ResponseHead []byte
	// Revisit is the row's revisit state after this outcome (nil: none
	// kept); RevisitAt is when the URL is due again (zero: never). Both
	// are written only for final states.
	Revisit   *RevisitState
	RevisitAt time.Time
}

// Link is a URL found on a page (or in a sitemap, or as a redirect
// target), normalised and checked against its crawl's policy, ready to
// enter the frontier.
type Link struct {
	URL      string
	Key      [16]byte // Key(URL)
	Host     string
	Domain   string // Site(Host)
	Shard    int16  // Shard(Domain)
	Depth    int16
	SeedHost string
}

// AssistantStatus is the leader's view of one assistant, published in its
// heartbeat for `master status`.
type AssistantStatus struct {
	ID         string `json:"id"`
	Up         bool   `json:"up"`
	Draining   bool   `json:"draining"`
	Slots      int    `json:"slots"`
	Busy       int    `json:"busy"`
	InFlight   int    `json:"in_flight"`
	Dispatched int64  `json:"dispatched_urls"`
	LastError  string `json:"last_error,omitempty"`
}
