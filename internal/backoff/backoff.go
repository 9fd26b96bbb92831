package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is a capped exponential backoff with jitter. The zero value is
// not useful; set Base and Max. It is not safe for concurrent use: each
// retry loop has its own.
type Backoff struct {
	Base   time.Duration // the first delay
	Max    time.Duration // the delay stops doubling here
	Jitter float64       // each delay is spread over ±Jitter of itself, 0..1

	cur time.Duration
}

// Next returns the delay before the next try: Base, then twice the
// previous delay up to Max, each spread by Jitter.
func (b *Backoff) Next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.Base
	case b.cur < b.Max:
		b.cur = min(2*b.cur, b.Max)
	}
	return Jitter(b.cur, b.Jitter)
}

// Reset starts over at Base, after a success.
func (b *Backoff) Reset() { b.cur = 0 }

// Jitter spreads d uniformly over ±frac of itself.
func Jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 + frac*(2*rand.Float64()-1)))
}

// Sleep waits for d, or until ctx is done and then returns ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
