package frontier

import "time"

// Revisit modes of a crawl.
const (
	// RevisitNone: a final URL is never fetched again (the default).
	RevisitNone = "none"
	// RevisitFixed: each final state is fetched again after its interval.
	RevisitFixed = "fixed"
	// RevisitAdaptive: a done URL's interval follows how often its content
	// changes (package revisit); failed and dead URLs as RevisitFixed.
	RevisitAdaptive = "adaptive"
)

// Overlap rules of a scheduled crawl: what a tick does while the previous
// round still has URLs pending or leased.
const (
	OverlapSkip  = "skip"  // the tick is skipped (logged and counted)
	OverlapMerge = "merge" // seeds already final become due; the rest goes on
)

// Revisit is a crawl's revisit policy. An interval of 0 never revisits
// that state.
type Revisit struct {
	Mode string // RevisitNone, RevisitFixed or RevisitAdaptive
	// Done, Failed and Dead are the intervals after a fetch that left the
	// URL in that state. For RevisitAdaptive, Done is the first interval
	// of a URL, before any change was observed.
	Done, Failed, Dead time.Duration
	// Min and Max bound adaptive intervals.
	Min, Max time.Duration
}

// DefaultRevisit is the policy of a crawl that sets none but a mode, with
// the intervals of the crawlers it follows: StormCrawler's DefaultScheduler
// revisits fetched pages after 1 day and pages whose fetch failed after 2
// hours; Nutch's AdaptiveFetchSchedule bounds intervals between 1 minute
// and 1 year.
func DefaultRevisit(mode string) Revisit {
	return Revisit{Mode: mode, Done: 24 * time.Hour, Failed: 2 * time.Hour, Dead: 2 * time.Hour,
		Min: time.Minute, Max: 365 * 24 * time.Hour}
}

// Revisits reports whether the policy ever fetches a final URL again.
func (r Revisit) Revisits() bool { return r.Mode == RevisitFixed || r.Mode == RevisitAdaptive }

// Schedule makes a crawl's seeds due again every Every, or at each time
// of Cron (a standard five-field cron expression, UTC); neither:
// unscheduled.
type Schedule struct {
	Every   time.Duration
	Cron    string
	Overlap string // OverlapSkip or OverlapMerge
}

// Scheduled reports whether the crawl has rounds.
func (s Schedule) Scheduled() bool { return s.Every > 0 || s.Cron != "" }

// RevisitState is what a URL's row keeps for its next fetch: the
// validators and content hash of its last successful fetch and when that
// was, and the adaptive schedule's estimator (seconds).
type RevisitState struct {
	ETag, LastModified string
	Hash               []byte    // SHA-256 of the last successful fetch's body
	OKAt               time.Time // when that fetch was
	// ChangedAt is when the current content was first fetched (the last
	// successful fetch that found it changed): unchanged fetches refer to
	// it (WARC-Refers-To-Date).
	ChangedAt time.Time
	// Interval is the revisit interval in use; Span, Changes and Visits
	// are the decayed time observed across revisits, count of changes seen
	// in it and count of revisits (package revisit).
	Interval, Span, Changes, Visits float64
}
