package revisit

import (
	"bytes"
	"time"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// Adaptive schedule constants (see the package documentation).
const (
	// Decay weighs past observations: each revisit keeps this share of
	// the time and changes observed before it (a window of about ten
	// revisits).
	Decay = 0.9
	// Target is the next interval as a share of the estimated change
	// interval: a little under it, so that a page is rarely changed twice
	// between two revisits (which would hide a change and bias the
	// estimate up).
	Target = 0.85
	// Grow multiplies the interval while no change was seen lately.
	Grow = 1.5
	// Saturated is the share of recent revisits that saw a change above
	// which the page is taken to change faster than it is looked at: the
	// time per change seen is then only an upper bound of its change
	// interval, so the interval is halved and the estimate starts afresh.
	// At the Target the share stays near 0.85 (at most about 0.92 after
	// the longest runs of changes), so it does not fire there.
	Saturated = 0.97
)

// Fetch is what the revisit schedule needs of a fetch's outcome.
type Fetch struct {
	State       frontier.State // done, failed or dead (pending: not final, no change)
	At          time.Time      // when the page was requested
	NotModified bool           // the server answered 304
	Hash        []byte         // content hash (nil for a 304)
	ETag        string
	LastMod     string
}

// Decision is the row's revisit state after a fetch.
type Decision struct {
	State *frontier.RevisitState // nil: the row keeps none
	At    time.Time              // when the URL is due again; zero: never
	// Unchanged: the content equals the previous successful fetch's
	// (fetched at RefersTo).
	Unchanged bool
	RefersTo  time.Time
}

// Next decides after fetch f of a URL whose row kept prev (nil: nothing)
// under policy p. A crawl that does not revisit keeps nothing; a pending
// (retried) outcome keeps prev as it is.
func Next(p frontier.Revisit, prev *frontier.RevisitState, f Fetch) Decision {
	if !p.Revisits() {
		return Decision{}
	}
	if f.State == frontier.StatePending {
		return Decision{State: prev}
	}
	st := frontier.RevisitState{}
	if prev != nil {
		st = *prev
	}
	var d Decision
	var interval time.Duration
	switch f.State {
	case frontier.StateFailed:
		interval = p.Failed
	case frontier.StateDead:
		interval = p.Dead
	case frontier.StateDone:
		seen := prev != nil && !prev.OKAt.IsZero()
		d.Unchanged = seen && (f.NotModified || (len(f.Hash) > 0 && bytes.Equal(prev.Hash, f.Hash)))
		if d.Unchanged {
			// The fetch that brought this content (a chain of unchanged
			// fetches all refer to it).
			d.RefersTo = prev.ChangedAt
			if d.RefersTo.IsZero() {
				d.RefersTo = prev.OKAt
			}
		} else {
			st.ChangedAt = f.At
		}
		if !f.NotModified {
			st.Hash = f.Hash
			st.ETag, st.LastModified = f.ETag, f.LastMod
		} else {
			// A 304 may repeat the validators or leave them out.
			if f.ETag != "" {
				st.ETag = f.ETag
			}
			if f.LastMod != "" {
				st.LastModified = f.LastMod
			}
		}
		if p.Mode == frontier.RevisitAdaptive {
			interval = adapt(p, &st, seen, f.At.Sub(st.OKAt), !d.Unchanged)
		} else {
			interval = p.Done
		}
		st.OKAt = f.At
	}
	d.State = &st
	if interval > 0 {
		d.At = f.At.Add(interval)
	}
	return d
}

// adapt updates st's estimator with a revisit gap long after the last
// successful fetch in which the content changed or not, and returns the
// next interval. The first successful fetch (seen false) starts at p.Done.
func adapt(p frontier.Revisit, st *frontier.RevisitState, seen bool, gap time.Duration, changed bool) time.Duration {
	if !seen || st.Interval <= 0 {
		st.Interval, st.Span, st.Changes, st.Visits = clamp(p, p.Done.Seconds()), 0, 0, 0
		return seconds(st.Interval)
	}
	g := gap.Seconds()
	if g <= 0 {
		g = st.Interval
	}
	if changed && st.Changes < 0.5 {
		// The first change after a quiet run: the time observed is mostly
		// quiet time that says nothing about how often the page changes
		// now. Start the estimate afresh from this gap.
		st.Span, st.Changes, st.Visits = 0, 0, 0
	}
	st.Span = Decay*st.Span + g
	st.Changes = Decay * st.Changes
	st.Visits = Decay*st.Visits + 1
	if changed {
		st.Changes++
	}
	switch {
	case st.Changes < 0.5:
		st.Interval = clamp(p, st.Interval*Grow)
	case changed && st.Visits >= 3 && st.Changes >= Saturated*st.Visits:
		st.Interval = clamp(p, g/2)
		st.Span, st.Changes, st.Visits = 0, 0, 0
	default:
		st.Interval = clamp(p, Target*st.Span/st.Changes)
	}
	return seconds(st.Interval)
}

func clamp(p frontier.Revisit, s float64) float64 {
	return min(max(s, p.Min.Seconds()), p.Max.Seconds())
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
