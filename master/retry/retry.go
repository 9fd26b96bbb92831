package retry

import (
	"math"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// Policy is the retry schedule, and rpc.yaml's "retry" section as
// config.Config reads it (its defaults and rules are config's).
type Policy struct {
	MaxAttempts int           `yaml:"max_attempts"`
	BaseDelay   time.Duration `yaml:"base_delay"`
	MaxDelay    time.Duration `yaml:"max_delay"`
	// Jitter spreads each delay uniformly over ±Jitter of itself, so URLs
	// that failed together do not come back together.
	Jitter float64 `yaml:"jitter"`
}

// Backoff is the delay before attempt number attempt+1, given that attempt
// (1-based) just failed: BaseDelay·2^(attempt-1), capped at MaxDelay, then
// jittered. u is a uniform random number in [0,1).
func (p Policy) Backoff(attempt int, u float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := float64(p.BaseDelay) * math.Pow(2, float64(attempt-1))
	if d > float64(p.MaxDelay) || math.IsInf(d, 0) {
		d = float64(p.MaxDelay)
	}
	d *= 1 + p.Jitter*(2*u-1)
	if d < 0 || math.IsNaN(d) {
		d = 0
	}
	return time.Duration(d)
}

// Decision is what to do with a URL after one attempt.
type Decision struct {
	State       frontier.State // done, failed, dead, or pending (retry)
	NextFetchAt time.Time      // when State is pending
}

// Decide maps an attempt's class to the URL's next state. attempts counts
// the attempt just made; retryAfter is the server's Retry-After (honoured
// when longer than the backoff, capped at MaxDelay).
func (p Policy) Decide(class errclass.Class, attempts int, retryAfter time.Duration, now time.Time, u float64) Decision {
	switch {
	case class == errclass.OK:
		return Decision{State: frontier.StateDone}
	case !class.Transient():
		return Decision{State: frontier.StateFailed}
	case attempts >= p.MaxAttempts:
		return Decision{State: frontier.StateDead}
	}
	// The server's Retry-After may lengthen the wait (up to MaxDelay), never
	// shorten it.
	d := max(p.Backoff(attempts, u), min(retryAfter, p.MaxDelay))
	return Decision{State: frontier.StatePending, NextFetchAt: now.Add(d)}
}
