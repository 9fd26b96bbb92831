package dispatch

import (
	"errors"
	"testing"
	"time"
)

func TestLivenessDownByOverdue(t *testing.T) {
	cases := []struct {
		name        string
		prep        func(*liveness)
		wantDownBy  time.Time
		overdueAt   []time.Time
		wantOverdue []bool
	}{
		{
			name:        "never polled: not up, never overdue",
			overdueAt:   []time.Time{livenessTestAt(0), livenessTestAt(1000)},
			wantOverdue: []bool{false, false},
		},
		{
			name: "only failed polls: not up, never overdue",
			prep: func(l *liveness) {
				l.pollFailed(errors.New("x"), 1)
				l.pollFailed(errors.New("x"), 1)
			},
			overdueAt:   []time.Time{livenessTestAt(1000)},
			wantOverdue: []bool{false},
		},
		{
			name:        "counted from when the answered poll was sent",
			prep:        func(l *liveness) { l.pollAnswered(livenessTestAt(10), false) },
			wantDownBy:  livenessTestAt(40),
			overdueAt:   []time.Time{livenessTestAt(39), livenessTestAt(40), livenessTestAt(41)},
			wantOverdue: []bool{false, true, true},
		},
		{
			name: "a later answer moves it",
			prep: func(l *liveness) {
				l.pollAnswered(livenessTestAt(10), false)
				l.pollAnswered(livenessTestAt(20), false)
			},
			wantDownBy:  livenessTestAt(50),
			overdueAt:   []time.Time{livenessTestAt(40), livenessTestAt(50)},
			wantOverdue: []bool{false, true},
		},
		{
			name: "failed polls do not move it",
			prep: func(l *liveness) {
				l.pollAnswered(livenessTestAt(10), false)
				l.pollFailed(errors.New("x"), 3)
				l.pollFailed(errors.New("x"), 3)
			},
			wantDownBy:  livenessTestAt(40),
			overdueAt:   []time.Time{livenessTestAt(39), livenessTestAt(40)},
			wantOverdue: []bool{false, true},
		},
		{
			name: "draining and paused still count",
			prep: func(l *liveness) {
				l.pollAnswered(livenessTestAt(10), true)
				l.pause(livenessTestAt(12))
			},
			wantDownBy:  livenessTestAt(40),
			overdueAt:   []time.Time{livenessTestAt(40)},
			wantOverdue: []bool{true},
		},
		{
			name: "marked down: zero, never overdue",
			prep: func(l *liveness) {
				l.pollAnswered(livenessTestAt(10), false)
				l.markDown()
			},
			overdueAt:   []time.Time{livenessTestAt(41), livenessTestAt(1000)},
			wantOverdue: []bool{false, false},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := liveness{downAfter: 30 * time.Second}
			if c.prep != nil {
				c.prep(&l)
			}
			if got := l.downBy(); !got.Equal(c.wantDownBy) {
				t.Errorf("downBy() = %v, want %v", got, c.wantDownBy)
			}
			for i, at := range c.overdueAt {
				if got := l.overdue(at); got != c.wantOverdue[i] {
					t.Errorf("overdue(%v) = %v, want %v", at, got, c.wantOverdue[i])
				}
			}
		})
	}
}

func TestLivenessMarkDown(t *testing.T) {
	l := liveness{downAfter: 30 * time.Second}
	l.pollAnswered(livenessTestAt(1), false)
	l.pause(livenessTestAt(2))
	l.markDown()
	if l.up {
		t.Error("up = true after markDown, want false")
	}
	if !l.pausedAt.IsZero() {
		t.Errorf("pausedAt = %v after markDown, want zero", l.pausedAt)
	}
	if l.dispatchable() || l.owning() {
		t.Errorf("dispatchable %v, owning %v after markDown; want false, false", l.dispatchable(), l.owning())
	}
	if cameUp, _ := l.pollAnswered(livenessTestAt(3), false); !cameUp || !l.dispatchable() {
		t.Errorf("after an answer: cameUp %v, dispatchable %v; want true, true", cameUp, l.dispatchable())
	}
}

func TestLivenessPause(t *testing.T) {
	cases := []struct {
		name string
		prep func(*liveness)
		at   time.Time
		want bool
	}{
		{
			name: "not paused",
			prep: func(l *liveness) { l.pollAnswered(livenessTestAt(1), false) },
			at:   livenessTestAt(5), want: true,
		},
		{
			name: "already paused",
			prep: func(l *liveness) {
				l.pollAnswered(livenessTestAt(1), false)
				l.pause(livenessTestAt(3))
			},
			at: livenessTestAt(5), want: false,
		},
		{
			name: "pause cleared by a later poll",
			prep: func(l *liveness) {
				l.pollAnswered(livenessTestAt(1), false)
				l.pause(livenessTestAt(3))
				l.pollAnswered(livenessTestAt(4), false)
			},
			at: livenessTestAt(5), want: true,
		},
		{
			name: "pause not cleared by an earlier poll",
			prep: func(l *liveness) {
				l.pollAnswered(livenessTestAt(1), false)
				l.pause(livenessTestAt(3))
				l.pollAnswered(livenessTestAt(2), false)
			},
			at: livenessTestAt(5), want: false,
		},
		{
			name: "pause cleared by markDown",
			prep: func(l *liveness) {
				l.pollAnswered(livenessTestAt(1), false)
				l.pause(livenessTestAt(3))
				l.markDown()
			},
			at: livenessTestAt(5), want: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := liveness{downAfter: 30 * time.Second}
			c.prep(&l)
			before := l.pausedAt
			got := l.pause(c.at)
			if got != c.want {
				t.Errorf("pause() = %v, want %v", got, c.want)
			}
			wantAt := before
			if c.want {
				wantAt = c.at
			}
			if !l.pausedAt.Equal(wantAt) {
				t.Errorf("pausedAt = %v, want %v", l.pausedAt, wantAt)
			}
			if l.dispatchable() {
				t.Error("dispatchable() = true while paused, want false")
			}
		})
	}
}

func TestLivenessDispatchableOwning(t *testing.T) {
	cases := []struct {
		name                       string
		up, draining, paused       bool
		wantDispatchable, wantOwns bool
	}{
		{name: "down", up: false},
		{name: "down, draining", draining: true},
		{name: "down, paused", paused: true},
		{name: "down, draining, paused", draining: true, paused: true},
		{name: "up", up: true, wantDispatchable: true, wantOwns: true},
		{name: "up, draining", up: true, draining: true},
		{name: "up, paused", up: true, paused: true, wantOwns: true},
		{name: "up, draining, paused", up: true, draining: true, paused: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var l liveness
			l.pollAnswered(livenessTestAt(1), c.draining)
			if !c.up {
				l.markDown()
			}
			if c.paused {
				l.pause(livenessTestAt(2))
			}
			if l.up != c.up || l.draining != c.draining || l.pausedAt.IsZero() == c.paused {
				t.Fatalf("setup: up %v, draining %v, pausedAt %v; want %v, %v, paused %v",
					l.up, l.draining, l.pausedAt, c.up, c.draining, c.paused)
			}
			if got := l.dispatchable(); got != c.wantDispatchable {
				t.Errorf("dispatchable() = %v, want %v", got, c.wantDispatchable)
			}
			if got := l.owning(); got != c.wantOwns {
				t.Errorf("owning() = %v, want %v", got, c.wantOwns)
			}
		})
	}
}
