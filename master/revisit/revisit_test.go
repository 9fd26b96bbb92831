package revisit

import (
	"math"
	"math/rand/v2"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/websim"
	"github.com/crawlmaster/crawlmaster/master/frontier"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func TestNextFixed(t *testing.T) {
	p := frontier.DefaultRevisit(frontier.RevisitFixed)
	h1, h2 := []byte("h1"), []byte("h2")
	first := Next(p, nil, Fetch{State: frontier.StateDone, At: t0, Hash: h1, ETag: `"a"`, LastMod: "x"})
	if first.State == nil || !first.At.Equal(t0.Add(24*time.Hour)) || first.Unchanged {
		t.Fatalf("first fetch: %+v", first)
	}
	if s := first.State; s.ETag != `"a"` || s.LastModified != "x" || string(s.Hash) != "h1" || !s.OKAt.Equal(t0) {
		t.Fatalf("first state: %+v", s)
	}
	t1 := t0.Add(24 * time.Hour)
	notMod := Next(p, first.State, Fetch{State: frontier.StateDone, At: t1, NotModified: true})
	if !notMod.Unchanged || !notMod.RefersTo.Equal(t0) || string(notMod.State.Hash) != "h1" || notMod.State.ETag != `"a"` {
		t.Errorf("304: %+v state %+v", notMod, notMod.State)
	}
	same := Next(p, first.State, Fetch{State: frontier.StateDone, At: t1, Hash: h1})
	if !same.Unchanged || same.State.ETag != "" {
		t.Errorf("same hash, no validators sent: %+v state %+v", same, same.State)
	}
	changed := Next(p, first.State, Fetch{State: frontier.StateDone, At: t1, Hash: h2})
	if changed.Unchanged || string(changed.State.Hash) != "h2" {
		t.Errorf("changed: %+v", changed)
	}
	failed := Next(p, first.State, Fetch{State: frontier.StateFailed, At: t1})
	if !failed.At.Equal(t1.Add(2*time.Hour)) || string(failed.State.Hash) != "h1" || !failed.State.OKAt.Equal(t0) {
		t.Errorf("failed keeps the last success and revisits in 2h: %+v %+v", failed, failed.State)
	}
	p.Dead = 0
	if dead := Next(p, first.State, Fetch{State: frontier.StateDead, At: t1}); !dead.At.IsZero() {
		t.Errorf("dead with interval 0 is revisited at %v", dead.At)
	}
	if pend := Next(p, first.State, Fetch{State: frontier.StatePending, At: t1}); pend.State != first.State || !pend.At.IsZero() {
		t.Errorf("a retried outcome changed the state: %+v", pend)
	}
	if none := Next(frontier.DefaultRevisit(frontier.RevisitNone), first.State, Fetch{State: frontier.StateDone, At: t1, Hash: h1}); none.State != nil || !none.At.IsZero() {
		t.Errorf("revisit none keeps state: %+v", none)
	}
}

// The adaptive interval of each of websim's changing pages converges to
// within ±30% of the page's true change interval, from the default first
// interval of a day, whether the page changes every minute or every week,
// with revisits claimed a little late (as a loaded crawler does). The
// content seen at each revisit is websim's version of the page at that
// simulated time.
func TestAdaptiveConverges(t *testing.T) {
	sim, err := websim.New(websim.Config{Domains: 60, Seed: 7, Fractions: websim.DefaultFractions(),
		Changing: websim.ChangingConfig{Enabled: true, Intervals: append(websim.DefaultChangeIntervals(), 7*24*time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	p := frontier.DefaultRevisit(frontier.RevisitAdaptive)
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[time.Duration]int{}
	for rank := 1; rank <= sim.NumDomains(); rank++ {
		for _, raw := range sim.ChangingURLs(rank) {
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			period, _ := sim.ChangeInterval(u.Host, u.Path)
			seen[period]++
			var st *frontier.RevisitState
			at := t0
			var intervals []float64
			// Twenty days to come down from the first day's interval,
			// then sixty periods.
			for end := t0.Add(20*24*time.Hour + 60*period); at.Before(end); {
				v, _ := sim.Version(u.Host, u.Path, at)
				d := Next(p, st, Fetch{State: frontier.StateDone, At: at, Hash: []byte(strconv.FormatInt(v, 10))})
				st = d.State
				intervals = append(intervals, st.Interval)
				// Due at d.At; claimed up to 2% of the interval late.
				at = d.At.Add(time.Duration(rng.Float64() * 0.02 * float64(d.At.Sub(at))))
			}
			// The last ten intervals, as a share of the true period.
			tail := intervals[max(0, len(intervals)-10):]
			for _, iv := range tail {
				if r := iv / period.Seconds(); math.Abs(r-1) > 0.3 {
					t.Errorf("%s (changes every %v): interval %.0fs = %.2f× the period after %d revisits (last: %v)",
						raw, period, iv, r, len(intervals), fmtTail(tail))
					break
				}
			}
		}
	}
	if len(seen) < 6 {
		t.Fatalf("pages of %d change intervals, want all 6: %v", len(seen), seen)
	}
	t.Logf("pages by change interval: %v", seen)
}

func fmtTail(tail []float64) []string {
	out := make([]string, len(tail))
	for i, v := range tail {
		out[i] = time.Duration(v * float64(time.Second)).Round(time.Second).String()
	}
	return out
}

// A page that was quiet long enough for its interval to reach the
// maximum, then starts changing every hour, comes back down at once: the
// first change restarts the estimate (the quiet time says nothing about
// the new rate), and the interval is within ±30% of the hour after a few
// dozen revisits.
func TestAdaptiveFollowsAPageThatWakesUp(t *testing.T) {
	p := frontier.DefaultRevisit(frontier.RevisitAdaptive)
	p.Max = 30 * 24 * time.Hour
	var st *frontier.RevisitState
	at := t0
	quietUntil := t0.Add(200 * 24 * time.Hour)
	for at.Before(quietUntil) {
		d := Next(p, st, Fetch{State: frontier.StateDone, At: at, Hash: []byte("same")})
		st, at = d.State, d.At
	}
	if st.Interval != p.Max.Seconds() {
		t.Fatalf("after 200 quiet days the interval is %.0fs, want the maximum", st.Interval)
	}
	period := time.Hour
	prev := st.Interval
	for n := 1; ; n++ {
		v := int64(at.Sub(quietUntil) / period)
		d := Next(p, st, Fetch{State: frontier.StateDone, At: at, Hash: []byte(strconv.FormatInt(v, 10))})
		if n == 1 && d.State.Interval >= prev {
			t.Errorf("the first change after the quiet run did not shorten the interval: %.0fs -> %.0fs", prev, d.State.Interval)
		}
		st, at = d.State, d.At
		if r := st.Interval / period.Seconds(); math.Abs(r-1) <= 0.3 {
			t.Logf("within ±30%% of the hour after %d revisits", n)
			if n > 40 {
				t.Errorf("took %d revisits, want at most 40", n)
			}
			return
		}
		if n > 200 {
			t.Fatalf("interval %.0fs after 200 revisits of a page changing hourly", st.Interval)
		}
	}
}
