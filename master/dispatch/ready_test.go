package dispatch

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

var readyT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return readyT0.Add(time.Duration(ms) * time.Millisecond) }

// tasksOf returns n tasks of site, tokens numbered from tok.
func tasksOf(site string, n int, tok int64) []frontier.Task {
	out := make([]frontier.Task, n)
	for i := range out {
		out[i] = frontier.Task{Token: tok + int64(i), URLID: tok + int64(i), URL: fmt.Sprintf("http://%s/%d", site, i), Domain: site, Shard: int16(len(site))}
	}
	return out
}

func names(tasks []frontier.Task) []string {
	var out []string
	for _, t := range tasks {
		out = append(out, t.URL)
	}
	return out
}

func TestReadyQueueBatchesBySite(t *testing.T) {
	q := newReadyQueue(0)
	q.add(at(0), append(tasksOf("a", 3, 1), tasksOf("b", 2, 10)...))
	if q.urls != 5 || q.readyN != 5 {
		t.Fatalf("urls %d, ready %d; want 5, 5", q.urls, q.readyN)
	}
	// A site without a wait gives all its URLs (up to the limit).
	got := q.take(at(0), 4, 4)
	if want := []string{"http://a/0", "http://a/1", "http://a/2", "http://b/0"}; !slices.Equal(names(got), want) {
		t.Fatalf("first batch %v, want %v", names(got), want)
	}
	// b is running now: its second URL waits for that batch, even though
	// a slot is free.
	if got := q.take(at(0), 4, 4); got != nil || q.urls != 1 || q.readyN != 0 {
		t.Fatalf("second batch %v (urls %d, ready %d): want none while b runs", names(got), q.urls, q.readyN)
	}
	q.done(at(10), "a", 0)
	q.done(at(10), "b", 0)
	if got := q.take(at(10), 4, 4); !slices.Equal(names(got), []string{"http://b/1"}) {
		t.Fatalf("after b's batch ended: %v, want b/1", names(got))
	}
	if _, ok := q.sites["a"]; ok {
		t.Error("an idle site with nothing queued and no wait is still held")
	}
}

func TestReadyQueueSpacesPoliteSites(t *testing.T) {
	q := newReadyQueue(time.Second) // unknown sites: one URL per batch
	q.add(at(0), append(tasksOf("a", 3, 1), append(tasksOf("b", 2, 10), tasksOf("c", 1, 20)...)...))
	got := q.take(at(0), 16, 16)
	if want := []string{"http://a/0", "http://b/0", "http://c/0"}; !slices.Equal(names(got), want) {
		t.Fatalf("batch %v, want one URL of each site %v", names(got), want)
	}
	q.done(at(100), "a", 1500*time.Millisecond) // the assistant says: a's next request in 1.5 s
	q.done(at(100), "b", 0)                     // b has no delay after all
	q.done(at(100), "c", time.Second)
	if got := q.take(at(100), 16, 16); !slices.Equal(names(got), []string{"http://b/1"}) {
		t.Fatalf("at 100 ms: %v, want only b (a waits)", names(got))
	}
	if next := q.next(); !next.Equal(at(1600)) {
		t.Fatalf("next ready at %v, want 1.6 s", next.Sub(readyT0))
	}
	if got := q.take(at(1599), 16, 16); got != nil {
		t.Fatalf("at 1599 ms: %v, want none", names(got))
	}
	if got := q.take(at(1600), 16, 16); !slices.Equal(names(got), []string{"http://a/1"}) {
		t.Fatalf("at 1.6 s: %v, want a/1", names(got))
	}
	// c's wait is remembered with nothing queued, so a URL of c claimed
	// now still waits for it.
	q.add(at(200), tasksOf("c", 1, 30))
	if got := q.take(at(200), 16, 16); got != nil {
		t.Fatalf("c claimed again 100 ms after its batch: %v, want it to wait until 1.1 s", names(got))
	}
	q.forget(at(5000))
	if q.sites["c"] == nil {
		t.Error("forget dropped a site with a URL queued")
	}
}

func TestReadyQueueBrokenBatchKeepsTheLastWait(t *testing.T) {
	q := newReadyQueue(0)
	q.add(at(0), tasksOf("a", 2, 1))
	q.take(at(0), 1, 1)
	q.done(at(0), "a", 2*time.Second)
	q.take(at(2000), 1, 1)
	q.done(at(2100), "a", -1) // no result: the stream broke
	if got := q.take(at(3000), 1, 1); got != nil {
		t.Fatalf("at 3 s %v: a broken batch must keep the site's last wait (2 s, until 4.1 s)", names(got))
	}
}

func TestReadyQueueLimitAndTarget(t *testing.T) {
	q := newReadyQueue(0)
	q.add(at(0), append(tasksOf("big", 40, 1), tasksOf("s", 1, 100)...))
	if got := q.take(at(0), 8, 16); len(got) != 16 || got[0].Domain != "big" {
		t.Fatalf("took %d URLs (%v...), want the limit of 16 from big", len(got), got[0].Domain)
	}
	// big runs with 24 URLs left; s goes in the next batch alone.
	if got := q.take(at(0), 8, 16); !slices.Equal(names(got), []string{"http://s/0"}) || q.urls != 24 {
		t.Fatalf("second batch %v, %d left; want s/0, 24 left", names(got), q.urls)
	}
}

func TestReadyQueueClearAndDropUnowned(t *testing.T) {
	q := newReadyQueue(time.Second)
	q.add(at(0), append(tasksOf("aa", 2, 1), tasksOf("bbb", 2, 10)...))
	q.take(at(0), 1, 1) // aa runs with one URL left
	q.done(at(0), "aa", time.Second)
	drop := q.dropUnowned(func(shard int16) bool { return shard != 3 }) // "bbb" has shard 3
	slices.Sort(drop)
	if !slices.Equal(drop, []int64{10, 11}) || q.urls != 1 || q.readyN != 0 || len(q.waiting) != 1 {
		t.Fatalf("dropped %v (urls %d, ready %d, waiting %d); want bbb's 10 and 11, aa's one URL waiting", drop, q.urls, q.readyN, len(q.waiting))
	}
	if got := q.take(at(1000), 1, 1); !slices.Equal(names(got), []string{"http://aa/1"}) {
		t.Fatalf("after drop: %v, want aa/1 once its wait passed", names(got))
	}
	q.add(at(1000), tasksOf("cc", 3, 20))
	if toks := q.clear(); len(toks) != 3 || q.urls != 0 || q.take(at(9999), 9, 9) != nil {
		t.Fatalf("clear returned %v, left %d", toks, q.urls)
	}
	if q.sites["aa"] == nil {
		t.Error("clear forgot a site whose batch is still running")
	}
}

// A small target spreads sites over batches (one slot each), but a site's
// URLs still stay together.
func TestReadyQueueSmallTargetKeepsSitesWhole(t *testing.T) {
	q := newReadyQueue(0)
	q.add(at(0), []frontier.Task{{Token: 1, Domain: "a"}, {Token: 2, Domain: "b"}, {Token: 3, Domain: "a"}, {Token: 4, Domain: "c"}})
	var batches [][]int64
	for b := q.take(at(0), 1, 16); b != nil; b = q.take(at(0), 1, 16) {
		batches = append(batches, tokensOf(b))
	}
	if fmt.Sprint(batches) != "[[1 3] [2] [4]]" {
		t.Fatalf("batches %v, want [[1 3] [2] [4]]", batches)
	}
}

// TestReadyQueueTable runs scripted sequences of operations; each take
// lists the URLs of the batch it must form.
func TestReadyQueueTable(t *testing.T) {
	type op struct {
		ms    int // now, in ms from readyT0
		add   []frontier.Task
		take  int             // > 0: take a batch of this target (and limit)
		want  []string        // the batch take must return
		done  string          // a site whose batch ended
		after time.Duration   // its wait (negative: keep the last one)
		back  []frontier.Task // deferred tasks given back before done
	}
	a, b := tasksOf("a", 3, 1), tasksOf("b", 2, 10)
	cases := []struct {
		name     string
		spacing0 time.Duration
		ops      []op
		urls     int // queued at the end
	}{
		{"a deferred URL goes first once its site's wait has passed", 0, []op{
			{ms: 0, add: a},
			{ms: 0, take: 4, want: []string{"http://a/0", "http://a/1", "http://a/2"}},
			{ms: 10, back: a[1:], done: "a", after: 500 * time.Millisecond},
			{ms: 10, take: 4, want: nil},
			{ms: 509, take: 4, want: nil},
			{ms: 510, take: 4, want: []string{"http://a/1"}}, // a wait: one URL per batch
		}, 1},
		{"a deferred site does not hold back the others", 0, []op{
			{ms: 0, add: append(slices.Clone(a[:1]), b...)},
			{ms: 0, take: 1, want: []string{"http://a/0"}},
			{ms: 5, back: a[:1], done: "a", after: time.Second},
			{ms: 5, take: 4, want: []string{"http://b/0", "http://b/1"}},
			{ms: 1005, take: 4, want: []string{"http://a/0"}},
		}, 0},
		{"a site's wait without deferrals spaces its URLs", time.Second, []op{
			{ms: 0, add: b},
			{ms: 0, take: 4, want: []string{"http://b/0"}},
			{ms: 100, done: "b", after: -1}, // no result: the assumed 1 s
			{ms: 1099, take: 4, want: nil},
			{ms: 1100, take: 4, want: []string{"http://b/1"}},
		}, 0},
		{"a wait of 0 reported lets a site give all its URLs", time.Second, []op{
			{ms: 0, add: a},
			{ms: 0, take: 4, want: []string{"http://a/0"}},
			{ms: 50, done: "a", after: 0},
			{ms: 50, take: 4, want: []string{"http://a/1", "http://a/2"}},
		}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := newReadyQueue(c.spacing0)
			for i, o := range c.ops {
				now := at(o.ms)
				if o.add != nil {
					q.add(now, o.add)
				}
				if o.back != nil {
					q.requeue(o.back)
				}
				if o.done != "" {
					q.done(now, o.done, o.after)
				}
				if o.take > 0 {
					if got := names(q.take(now, o.take, o.take)); !slices.Equal(got, o.want) {
						t.Fatalf("op %d at %dms: took %v, want %v", i, o.ms, got, o.want)
					}
				}
			}
			if q.urls != c.urls {
				t.Errorf("%d URLs queued at the end, want %d", q.urls, c.urls)
			}
		})
	}
}
