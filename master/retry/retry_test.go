package retry_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/retry"
)

// uMax is the largest float64 below 1: the top of Backoff's u range [0,1).
var uMax = math.Nextafter(1, 0)

// noJitter makes Backoff exact: no randomisation at all.
var noJitter = retry.Policy{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: time.Minute}

func TestBackoffDoublesAndCaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, 1 * time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{4, 8 * time.Second},
		{5, 16 * time.Second},
		{6, 32 * time.Second},
		{7, time.Minute}, // 64s capped
		{8, time.Minute},
		{30, time.Minute},
	}
	for _, tc := range tests {
		for _, u := range []float64{0, 0.5, uMax} { // Jitter 0: u must not matter
			if got := noJitter.Backoff(tc.attempt, u); got != tc.want {
				t.Errorf("Backoff(%d, %v) = %v, want %v", tc.attempt, u, got, tc.want)
			}
		}
	}
}

func TestBackoffExactlyAtCap(t *testing.T) {
	t.Parallel()
	p := retry.Policy{BaseDelay: 15 * time.Second, MaxDelay: time.Minute}
	// 15s, 30s, 60s (== MaxDelay, not above), then capped.
	want := []time.Duration{15 * time.Second, 30 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := p.Backoff(i+1, 0.5); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
}

func TestBackoffAttemptBelowOneIsFirst(t *testing.T) {
	t.Parallel()
	first := noJitter.Backoff(1, 0.5)
	for _, a := range []int{0, -1, -1000, math.MinInt} {
		if got := noJitter.Backoff(a, 0.5); got != first {
			t.Errorf("Backoff(%d) = %v, want %v (same as attempt 1)", a, got, first)
		}
	}
}

func TestBackoffHugeAttemptsDoNotOverflow(t *testing.T) {
	t.Parallel()
	policies := []retry.Policy{
		noJitter,
		{BaseDelay: time.Nanosecond, MaxDelay: 24 * time.Hour},
		{BaseDelay: time.Hour, MaxDelay: 1000 * time.Hour},
		{BaseDelay: time.Second, MaxDelay: time.Minute, Jitter: 0.5},
	}
	for _, p := range policies {
		for _, a := range []int{62, 63, 64, 65, 100, 1023, 1024, 1025, 1100, 1 << 20, 1 << 40, math.MaxInt32, math.MaxInt - 1, math.MaxInt} {
			for _, u := range []float64{0, 0.5, uMax} {
				got := p.Backoff(a, u)
				lo := time.Duration(float64(p.MaxDelay) * (1 - p.Jitter))
				hi := time.Duration(float64(p.MaxDelay) * (1 + p.Jitter))
				if got < lo || got > hi {
					t.Errorf("%+v Backoff(%d, %v) = %v, want within [%v, %v]", p, a, u, got, lo, hi)
				}
			}
		}
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	t.Parallel()
	for _, j := range []float64{0.1, 0.2, 0.5, 1} {
		p := retry.Policy{BaseDelay: time.Second, MaxDelay: 10 * time.Minute, Jitter: j}
		for a := 1; a <= 12; a++ {
			d := noJitterOf(p).Backoff(a, 0) // the un-jittered delay
			// u = 0 gives exactly the low end, u = 0.5 the middle.
			if got, want := p.Backoff(a, 0), time.Duration(float64(d)*(1-j)); got != want {
				t.Errorf("J=%v Backoff(%d, 0) = %v, want %v", j, a, got, want)
			}
			if got := p.Backoff(a, 0.5); got != d {
				t.Errorf("J=%v Backoff(%d, 0.5) = %v, want %v", j, a, got, d)
			}
			// u -> 1 approaches the high end from below.
			hi := time.Duration(float64(d) * (1 + j))
			got := p.Backoff(a, uMax)
			if got > hi || float64(hi-got) > 1e-6*float64(hi)+1 {
				t.Errorf("J=%v Backoff(%d, ~1) = %v, want just under %v", j, a, got, hi)
			}
			// Every u in [0,1) stays inside the band and the delay grows with u.
			prev := time.Duration(-1)
			for i := 0; i < 100; i++ {
				u := float64(i) / 100
				got := p.Backoff(a, u)
				if got < time.Duration(float64(d)*(1-j)) || got > hi {
					t.Fatalf("J=%v Backoff(%d, %v) = %v outside [%v, %v]", j, a, u, got, time.Duration(float64(d)*(1-j)), hi)
				}
				if got < prev {
					t.Fatalf("J=%v Backoff(%d, %v) = %v < Backoff at smaller u (%v)", j, a, u, got, prev)
				}
				prev = got
			}
		}
	}
}

func TestBackoffFullJitterNeverNegative(t *testing.T) {
	t.Parallel()
	p := retry.Policy{BaseDelay: time.Second, MaxDelay: time.Minute, Jitter: 1}
	if got := p.Backoff(3, 0); got != 0 {
		t.Errorf("Jitter 1, u 0: Backoff = %v, want 0", got)
	}
	// Out-of-contract jitter must still not give a negative delay.
	p.Jitter = 3
	for _, u := range []float64{0, 0.1, 0.3} {
		if got := p.Backoff(2, u); got < 0 {
			t.Errorf("Jitter 3, u %v: Backoff = %v, want >= 0", u, got)
		}
	}
}

// noJitterOf returns p without jitter.
func noJitterOf(p retry.Policy) retry.Policy {
	p.Jitter = 0
	return p
}

var (
	permanent = []errclass.Class{
		errclass.HTTP4xx, errclass.RobotsDisallowed, errclass.DNSNotFound,
		errclass.TooManyRedirects, errclass.TLS, errclass.InvalidURL,
		errclass.BlockedAddress,
	}
	transient = []errclass.Class{
		errclass.Timeout, errclass.ConnRefused, errclass.ConnReset,
		errclass.HTTP5xx, errclass.HTTP429, errclass.DNSTemporary,
		errclass.RobotsUnavailable, errclass.Protocol, errclass.Other,
		// crawl/doc.go lists canceled as transient too (the dispatcher
		// requeues it without calling Decide, but Decide must not drop it).
		errclass.Canceled,
	}
)

// TestClassKindsMatchDoc checks that every defined class is exactly one of
// ok / permanent / transient, as the table in crawl/doc.go documents, so a
// new class cannot be added without deciding its retry behaviour here.
func TestClassKindsMatchDoc(t *testing.T) {
	t.Parallel()
	all := errclass.All()
	documented := append(append([]errclass.Class{errclass.OK}, permanent...), transient...)
	for _, c := range all {
		if n := count(documented, c); n != 1 {
			t.Errorf("class %q is listed %d times among ok/permanent/transient, want once", c, n)
		}
	}
	for _, c := range documented {
		if !slices.Contains(all, c) {
			t.Errorf("class %q is not in errclass.All()", c)
		}
	}
	for _, c := range permanent {
		if c.Transient() {
			t.Errorf("%q.Transient() = true, documented permanent", c)
		}
	}
	for _, c := range transient {
		if !c.Transient() {
			t.Errorf("%q.Transient() = false, documented transient", c)
		}
	}
	if errclass.OK.Transient() {
		t.Errorf("ok.Transient() = true")
	}
}

func count(cs []errclass.Class, c errclass.Class) int {
	n := 0
	for _, x := range cs {
		if x == c {
			n++
		}
	}
	return n
}

var now = time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)

func TestDecideOK(t *testing.T) {
	t.Parallel()
	p := retry.Policy{MaxAttempts: 3, BaseDelay: time.Second, MaxDelay: time.Minute, Jitter: 0.2}
	for _, attempts := range []int{1, 3, 4, 100} {
		got := p.Decide(errclass.OK, attempts, time.Hour, now, 0.3)
		if got != (retry.Decision{State: frontier.StateDone}) {
			t.Errorf("Decide(ok, %d) = %+v, want done with zero NextFetchAt", attempts, got)
		}
	}
}

func TestDecidePermanentFailsAtOnce(t *testing.T) {
	t.Parallel()
	p := retry.Policy{MaxAttempts: 3, BaseDelay: time.Second, MaxDelay: time.Minute, Jitter: 0.2}
	for _, c := range permanent {
		for _, attempts := range []int{0, 1, 2, 3, 4, 1000} {
			got := p.Decide(c, attempts, 10*time.Second, now, 0.7)
			if got != (retry.Decision{State: frontier.StateFailed}) {
				t.Errorf("Decide(%s, %d) = %+v, want failed", c, attempts, got)
			}
		}
	}
}

func TestDecideTransientRetriesThenDies(t *testing.T) {
	t.Parallel()
	p := retry.Policy{MaxAttempts: 4, BaseDelay: 10 * time.Second, MaxDelay: time.Minute, Jitter: 0.25}
	for _, c := range transient {
		for _, u := range []float64{0, 0.5, 0.9} {
			for attempts := 0; attempts <= 6; attempts++ {
				got := p.Decide(c, attempts, 0, now, u)
				if attempts >= p.MaxAttempts {
					if got != (retry.Decision{State: frontier.StateDead}) {
						t.Errorf("Decide(%s, %d) = %+v, want dead", c, attempts, got)
					}
					continue
				}
				want := retry.Decision{State: frontier.StatePending, NextFetchAt: now.Add(p.Backoff(attempts, u))}
				if got != want {
					t.Errorf("Decide(%s, %d, u=%v) = %+v, want %+v", c, attempts, u, got, want)
				}
			}
		}
	}
}

func TestDecideExactSchedule(t *testing.T) {
	t.Parallel()
	p := retry.Policy{MaxAttempts: 5, BaseDelay: 30 * time.Second, MaxDelay: 90 * time.Second, Jitter: 0.2}
	tests := []struct {
		attempts int
		u        float64
		want     time.Duration
	}{
		{1, 0.5, 30 * time.Second},
		{1, 0, 24 * time.Second},    // 30s · 0.8
		{2, 0.5, 60 * time.Second},  // 30s · 2
		{2, 0.75, 66 * time.Second}, // 60s · 1.1
		{3, 0.5, 90 * time.Second},  // 120s capped
		{3, 0, 72 * time.Second},    // 90s · 0.8
		{4, 0.25, 81 * time.Second}, // 90s · 0.9
	}
	for _, tc := range tests {
		got := p.Decide(errclass.HTTP5xx, tc.attempts, 0, now, tc.u)
		want := retry.Decision{State: frontier.StatePending, NextFetchAt: now.Add(tc.want)}
		if got != want {
			t.Errorf("Decide(http_5xx, %d, u=%v) = %v after now, want %v", tc.attempts, tc.u, got.NextFetchAt.Sub(now), tc.want)
		}
	}
}

func TestDecideMaxAttemptsOne(t *testing.T) {
	t.Parallel()
	p := retry.Policy{MaxAttempts: 1, BaseDelay: time.Second, MaxDelay: time.Minute}
	if got := p.Decide(errclass.Timeout, 1, 0, now, 0.5); got.State != frontier.StateDead {
		t.Errorf("MaxAttempts 1: first transient failure gives %q, want dead", got.State)
	}
	if got := p.Decide(errclass.HTTP4xx, 1, 0, now, 0.5); got.State != frontier.StateFailed {
		t.Errorf("MaxAttempts 1: permanent failure gives %q, want failed (not dead)", got.State)
	}
}

func TestDecideRetryAfter(t *testing.T) {
	t.Parallel()
	p := retry.Policy{MaxAttempts: 5, BaseDelay: 10 * time.Second, MaxDelay: 5 * time.Minute}
	tests := []struct {
		name       string
		attempts   int
		retryAfter time.Duration
		want       time.Duration
	}{
		{"none", 1, 0, 10 * time.Second},
		{"negative ignored", 1, -time.Hour, 10 * time.Second},
		{"shorter than backoff ignored", 2, 5 * time.Second, 20 * time.Second},
		{"equal to backoff", 2, 20 * time.Second, 20 * time.Second},
		{"longer honoured", 1, 2 * time.Minute, 2 * time.Minute},
		{"longer honoured at a later attempt", 3, 3 * time.Minute, 3 * time.Minute},
		{"exactly MaxDelay", 1, 5 * time.Minute, 5 * time.Minute},
		{"capped at MaxDelay", 1, 24 * time.Hour, 5 * time.Minute},
		{"huge capped", 1, time.Duration(math.MaxInt64), 5 * time.Minute},
	}
	for _, tc := range tests {
		for _, c := range []errclass.Class{errclass.HTTP429, errclass.HTTP5xx} {
			got := p.Decide(c, tc.attempts, tc.retryAfter, now, 0.5)
			want := retry.Decision{State: frontier.StatePending, NextFetchAt: now.Add(tc.want)}
			if got != want {
				t.Errorf("%s: Decide(%s, %d, retryAfter %v) = %+v (in %v), want in %v",
					tc.name, c, tc.attempts, tc.retryAfter, got, got.NextFetchAt.Sub(now), tc.want)
			}
		}
	}
}

func TestDecideRetryAfterDoesNotReviveDeadOrFailed(t *testing.T) {
	t.Parallel()
	p := retry.Policy{MaxAttempts: 2, BaseDelay: time.Second, MaxDelay: time.Minute}
	if got := p.Decide(errclass.HTTP429, 2, 30*time.Second, now, 0.5); got != (retry.Decision{State: frontier.StateDead}) {
		t.Errorf("429 at MaxAttempts with Retry-After = %+v, want dead", got)
	}
	if got := p.Decide(errclass.HTTP4xx, 1, 30*time.Second, now, 0.5); got != (retry.Decision{State: frontier.StateFailed}) {
		t.Errorf("4xx with Retry-After = %+v, want failed", got)
	}
}

// TestDecideNextFetchAtAfterNow checks, over many attempts and u values
// with jitter, that a retry is always scheduled strictly in the future and
// within the policy's bounds.
func TestDecideNextFetchAtAfterNow(t *testing.T) {
	t.Parallel()
	p := retry.Policy{MaxAttempts: 50, BaseDelay: 100 * time.Millisecond, MaxDelay: 10 * time.Minute, Jitter: 0.3}
	for attempts := 1; attempts < p.MaxAttempts; attempts++ {
		for i := 0; i < 20; i++ {
			u := float64(i) / 20
			d := p.Decide(errclass.ConnReset, attempts, 0, now, u)
			if d.State != frontier.StatePending {
				t.Fatalf("attempt %d: state %q, want pending", attempts, d.State)
			}
			wait := d.NextFetchAt.Sub(now)
			if wait <= 0 || wait > time.Duration(float64(p.MaxDelay)*1.3) {
				t.Fatalf("attempt %d u %v: wait %v out of (0, %v]", attempts, u, wait, time.Duration(float64(p.MaxDelay)*1.3))
			}
		}
	}
}

// Regression: a Retry-After longer than the jittered backoff never
// shortens the wait.
func TestRetryAfterNeverShortensTheBackoff(t *testing.T) {
	p := retry.Policy{MaxAttempts: 10, BaseDelay: 30 * time.Second, MaxDelay: time.Hour, Jitter: 0.2}
	u := math.Nextafter(1, 0)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for attempts := 1; attempts < p.MaxAttempts; attempts++ {
		without := p.Decide(errclass.HTTP429, attempts, 0, now, u).NextFetchAt.Sub(now)
		with := p.Decide(errclass.HTTP429, attempts, 2*time.Hour, now, u).NextFetchAt.Sub(now)
		if with < without {
			t.Errorf("attempt %d: Retry-After 2h gives %v, shorter than %v without it", attempts, with, without)
		}
	}
}
