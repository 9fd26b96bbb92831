package crawl

import "time"

// Clock is the time source for policy decisions (robots cache expiry,
// politeness waits). Implementations must be safe for concurrent use.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once after d. A d <= 0 timer
	// fires immediately.
	NewTimer(d time.Duration) Timer
}

// Timer is the subset of *time.Timer the package uses.
type Timer interface {
	// C returns the channel the fire time is sent on (buffered, once).
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
}

// SystemClock is the Clock backed by package time.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }
