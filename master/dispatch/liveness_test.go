package dispatch

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

var livenessTestEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// livenessTestAt returns the test clock sec seconds after livenessTestEpoch.
func livenessTestAt(sec int) time.Time {
	return livenessTestEpoch.Add(time.Duration(sec) * time.Second)
}

func TestLivenessPollFailed(t *testing.T) {
	errPoll := errors.New("connection refused")
	cases := []struct {
		name      string
		prep      func(*liveness)
		downAfter int
		want      []bool // what each failed poll in a row returns
	}{
		{
			name:      "never up: true exactly once, at down_after failures",
			downAfter: 3,
			want:      []bool{false, false, true, false, false},
		},
		{
			name:      "never up, down_after 1: the first failure",
			downAfter: 1,
			want:      []bool{true, false},
		},
		{
			name:      "up: never",
			prep:      func(l *liveness) { l.pollAnswered(livenessTestAt(1), false) },
			downAfter: 2,
			want:      []bool{false, false, false, false},
		},
		{
			name: "marked down after an answer: counted afresh",
			prep: func(l *liveness) {
				l.pollAnswered(livenessTestAt(1), false)
				l.markDown()
			},
			downAfter: 2,
			want:      []bool{false, true, false},
		},
		{
			name: "failures before an answer do not count",
			prep: func(l *liveness) {
				l.pollFailed(errPoll, 2)
				l.pollAnswered(livenessTestAt(1), false)
				l.markDown()
			},
			downAfter: 2,
			want:      []bool{false, true, false},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var l liveness
			if c.prep != nil {
				c.prep(&l)
			}
			var got []bool
			for range c.want {
				got = append(got, l.pollFailed(errPoll, c.downAfter))
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("pollFailed returned %v, want %v", got, c.want)
			}
			if !l.polledOnce {
				t.Error("polledOnce = false after a failed poll, want true")
			}
			if l.failures != len(c.want) {
				t.Errorf("failures = %d, want %d", l.failures, len(c.want))
			}
			if l.lastErr != errPoll.Error() {
				t.Errorf("lastErr = %q, want %q", l.lastErr, errPoll.Error())
			}
		})
	}
}

func TestLivenessPollAnswered(t *testing.T) {
	cases := []struct {
		name             string
		prep             func(*liveness)
		sentAt           time.Time
		draining         bool
		wantCameUp       bool
		wantDrainChanged bool
		wantPaused       bool
	}{
		{
			name:       "first answer: came up",
			sentAt:     livenessTestAt(1),
			wantCameUp: true,
		},
		{
			name:             "first answer, draining: came up, draining changed",
			sentAt:           livenessTestAt(1),
			draining:         true,
			wantCameUp:       true,
			wantDrainChanged: true,
		},
		{
			name:   "after failed polls: came up",
			prep:   func(l *liveness) { l.pollFailed(errors.New("x"), 3); l.pollFailed(errors.New("y"), 3) },
			sentAt: livenessTestAt(5), wantCameUp: true,
		},
		{
			name:   "already up: nothing changed",
			prep:   func(l *liveness) { l.pollAnswered(livenessTestAt(1), false) },
			sentAt: livenessTestAt(2),
		},
		{
			name:             "starts draining",
			prep:             func(l *liveness) { l.pollAnswered(livenessTestAt(1), false) },
			sentAt:           livenessTestAt(2),
			draining:         true,
			wantDrainChanged: true,
		},
		{
			name:     "still draining",
			prep:     func(l *liveness) { l.pollAnswered(livenessTestAt(1), true) },
			sentAt:   livenessTestAt(2),
			draining: true,
		},
		{
			name:             "stops draining",
			prep:             func(l *liveness) { l.pollAnswered(livenessTestAt(1), true) },
			sentAt:           livenessTestAt(2),
			wantDrainChanged: true,
		},
		{
			name: "after being marked down: came up",
			prep: func(l *liveness) {
				l.pollAnswered(livenessTestAt(1), false)
				l.markDown()
			},
			sentAt:     livenessTestAt(9),
			wantCameUp: true,
		},
		{
			name: "poll sent after the pause clears it",
			prep: func(l *liveness) {
				l.pollAnswered(livenessTestAt(1), false)
				l.pause(livenessTestAt(5))
			},
			sentAt: livenessTestAt(6),
		},
		{
			name: "poll sent before the pause keeps it",
			prep: func(l *liveness) {
				l.pollAnswered(livenessTestAt(1), false)
				l.pause(livenessTestAt(5))
			},
			sentAt:     livenessTestAt(4),
			wantPaused: true,
		},
		{
			name: "poll sent the instant of the pause keeps it",
			prep: func(l *liveness) {
				l.pollAnswered(livenessTestAt(1), false)
				l.pause(livenessTestAt(5))
			},
			sentAt:     livenessTestAt(5),
			wantPaused: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := liveness{downAfter: 30 * time.Second}
			if c.prep != nil {
				c.prep(&l)
			}
			cameUp, drainChanged := l.pollAnswered(c.sentAt, c.draining)
			if cameUp != c.wantCameUp || drainChanged != c.wantDrainChanged {
				t.Errorf("pollAnswered = (cameUp %v, drainChanged %v), want (%v, %v)",
					cameUp, drainChanged, c.wantCameUp, c.wantDrainChanged)
			}
			if paused := !l.pausedAt.IsZero(); paused != c.wantPaused {
				t.Errorf("paused = %v, want %v", paused, c.wantPaused)
			}
			if !l.up || l.draining != c.draining || !l.polledOnce {
				t.Errorf("up %v, draining %v, polledOnce %v; want true, %v, true", l.up, l.draining, l.polledOnce, c.draining)
			}
			if l.failures != 0 || l.lastErr != "" {
				t.Errorf("failures %d, lastErr %q; want 0, \"\"", l.failures, l.lastErr)
			}
			if !l.lastAlive.Equal(c.sentAt) {
				t.Errorf("lastAlive = %v, want the poll's sentAt %v", l.lastAlive, c.sentAt)
			}
		})
	}
}
