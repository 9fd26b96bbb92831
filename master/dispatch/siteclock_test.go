package dispatch

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestSiteClock(t *testing.T) {
	var c siteClock
	now := readyT0
	if got := c.notBefore("a"); !got.IsZero() {
		t.Fatalf("empty clock: %v", got)
	}
	c.note("a", now.Add(time.Second), now)
	c.note("a", now.Add(500*time.Millisecond), now) // an earlier time does not win
	c.note("b", now, now)                           // nothing to wait: not noted
	if got := c.notBefore("a"); !got.Equal(now.Add(time.Second)) {
		t.Errorf("a: %v, want now+1s", got)
	}
	if got := c.notBefore("b"); !got.IsZero() {
		t.Errorf("b: %v, want none", got)
	}
	// Entries whose time has passed are swept once the map has grown.
	later := now.Add(2 * time.Second)
	for i := range minSweep {
		c.note(fmt.Sprintf("s%d", i), later.Add(time.Second), later)
	}
	if got := c.notBefore("a"); !got.IsZero() || len(c.m) != minSweep {
		t.Errorf("after the sweep: a %v, %d entries; want a gone, %d left", got, len(c.m), minSweep)
	}
}

// A site new to a feeder's queue that another feeder ran last waits for
// the time that feeder noted, and still gives one URL per batch under
// spacing0; a site nobody noted goes at once.
func TestReadyQueueNewSiteWaitsForItsPreviousOwner(t *testing.T) {
	var c siteClock
	c.note("a", at(300), at(0))
	q := newReadyQueue(0)
	q.notBefore = c.notBefore
	q.add(at(0), append(tasksOf("a", 2, 1), tasksOf("b", 1, 10)...))
	if got := names(q.take(at(0), 4, 4)); !slices.Equal(got, []string{"http://b/0"}) {
		t.Fatalf("at 0: took %v, want only b (a's previous owner said 300ms)", got)
	}
	if got := q.take(at(299), 4, 4); got != nil {
		t.Fatalf("at 299ms: took %v, want nothing", names(got))
	}
	if got := names(q.take(at(300), 4, 4)); !slices.Equal(got, []string{"http://a/0", "http://a/1"}) {
		t.Fatalf("at 300ms: took %v, want a's URLs", got)
	}
}
