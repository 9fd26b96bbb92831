package dispatch

import "time"

// liveness is what the master believes about an assistant being reachable
// and willing: up or down, draining, and paused after a failure. It does
// no I/O and reads no clock; callers pass the times.
type liveness struct {
	downAfter time.Duration // dispatch.down_after poll intervals

	up         bool
	draining   bool      // reported by the assistant
	polledOnce bool      // the first poll has ended
	failures   int       // failed polls in a row
	lastAlive  time.Time // when the last answered poll was sent
	lastErr    string
	// pausedAt is set when a batch failed as if the assistant were
	// unreachable or refused it as draining; nothing is dispatched to it
	// until a poll sent after that time is answered. Without this, every
	// freed slot would be refilled at once and fail at once, burning
	// through the ready queue.
	pausedAt time.Time
}

// pollFailed records a failed poll. It returns true when the assistant,
// never up so far or down, has now failed down_after polls in a row
// (worth one warning).
func (l *liveness) pollFailed(err error, downAfterPolls int) (unreachable bool) {
	l.polledOnce = true
	l.failures++
	l.lastErr = err.Error()
	return !l.up && l.failures == downAfterPolls
}

// pollAnswered records a poll sent at sentAt and answered. Evidence of
// life counts from when the poll was sent, so a hung assistant is marked
// down at most down_after from the moment it stopped answering. It
// returns whether the assistant came up and whether its draining changed.
func (l *liveness) pollAnswered(sentAt time.Time, draining bool) (cameUp, drainChanged bool) {
	l.polledOnce = true
	l.failures = 0
	l.lastErr = ""
	l.lastAlive = sentAt
	if !l.pausedAt.IsZero() && sentAt.After(l.pausedAt) {
		l.pausedAt = time.Time{}
	}
	drainChanged = draining != l.draining
	l.draining = draining
	cameUp = !l.up
	l.up = true
	return cameUp, drainChanged
}

// downBy is when the assistant is to be marked down if no poll sent
// before then is answered; zero when it is not up.
func (l *liveness) downBy() time.Time {
	if !l.up {
		return time.Time{}
	}
	return l.lastAlive.Add(l.downAfter)
}

// overdue reports whether an up assistant has answered no poll for
// down_after at now.
func (l *liveness) overdue(now time.Time) bool {
	return l.up && !now.Before(l.downBy())
}

// markDown records that the master gave the assistant up.
func (l *liveness) markDown() {
	l.up = false
	l.pausedAt = time.Time{}
}

// pause stops dispatching until a poll sent after now is answered. It
// returns false when dispatch was already paused.
func (l *liveness) pause(now time.Time) bool {
	if !l.pausedAt.IsZero() {
		return false
	}
	l.pausedAt = now
	return true
}

// dispatchable reports whether batches may be sent: up, not draining,
// not paused.
func (l *liveness) dispatchable() bool {
	return l.up && !l.draining && l.pausedAt.IsZero()
}

// owning reports whether the assistant should own shards: up and not
// draining (a draining one takes no new work, so its domains go to the
// others at once instead of when it exits).
func (l *liveness) owning() bool { return l.up && !l.draining }
