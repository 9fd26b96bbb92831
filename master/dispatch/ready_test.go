package dispatch

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// readyTestBatch builds a batch whose tasks have the given tokens; a
// task's shard is its token divided by 100, so tokens 101 and 102 are in
// shard 1.
func readyTestBatch(id string, tokens ...int64) *batch {
	b := &batch{id: id}
	for _, tok := range tokens {
		b.tasks = append(b.tasks, frontier.Task{URLID: tok, Token: tok, Shard: int16(tok / 100)})
	}
	return b
}

func readyTestTokens(tasks []frontier.Task) []int64 {
	out := make([]int64, len(tasks))
	for i, t := range tasks {
		out[i] = t.Token
	}
	return out
}

// readyTestContents lists the queue's batches as id and tokens.
func readyTestContents(q *readyQueue) []string {
	out := []string{}
	for _, b := range q.b {
		out = append(out, fmt.Sprint(b.id, readyTestTokens(b.tasks)))
	}
	return out
}

func TestReadyQueuePushPop(t *testing.T) {
	cases := []struct {
		name     string
		push     [][]*batch // successive push calls
		pops     int
		wantPops []string // ids popped, "" for nil
		wantN    int      // batches left
		wantURLs int      // URLs left
	}{
		{
			name:     "empty queue pops nil",
			pops:     1,
			wantPops: []string{""},
		},
		{
			name:     "push counts batches and URLs",
			push:     [][]*batch{{readyTestBatch("a", 1, 2)}, {readyTestBatch("b", 3), readyTestBatch("c", 4, 5, 6)}},
			wantN:    3,
			wantURLs: 6,
		},
		{
			name:     "pop returns the oldest first and uncounts its URLs",
			push:     [][]*batch{{readyTestBatch("a", 1, 2)}, {readyTestBatch("b", 3), readyTestBatch("c", 4, 5, 6)}},
			pops:     2,
			wantPops: []string{"a", "b"},
			wantN:    1,
			wantURLs: 3,
		},
		{
			name:     "popping past the end returns nil",
			push:     [][]*batch{{readyTestBatch("a", 1), readyTestBatch("b", 2, 3)}},
			pops:     3,
			wantPops: []string{"a", "b", ""},
		},
		{
			name:     "push with no batches changes nothing",
			push:     [][]*batch{{}, {readyTestBatch("a", 1)}, {}},
			wantN:    1,
			wantURLs: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var q readyQueue
			for _, bs := range c.push {
				q.push(bs...)
			}
			var popped []string
			for range c.pops {
				id := ""
				if b := q.pop(); b != nil {
					id = b.id
				}
				popped = append(popped, id)
			}
			if !reflect.DeepEqual(popped, c.wantPops) {
				t.Errorf("popped %q, want %q", popped, c.wantPops)
			}
			if got := q.batches(); got != c.wantN {
				t.Errorf("batches() = %d, want %d", got, c.wantN)
			}
			if q.urls != c.wantURLs {
				t.Errorf("urls = %d, want %d", q.urls, c.wantURLs)
			}
		})
	}
}

func TestReadyQueuePushAfterPop(t *testing.T) {
	var q readyQueue
	q.push(readyTestBatch("a", 1), readyTestBatch("b", 2))
	q.pop()
	q.push(readyTestBatch("c", 3, 4))
	if got, want := readyTestContents(&q), []string{"b[2]", "c[3 4]"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("queue = %v, want %v", got, want)
	}
	if q.urls != 3 {
		t.Fatalf("urls = %d, want 3", q.urls)
	}
}

func TestReadyQueueClear(t *testing.T) {
	cases := []struct {
		name  string
		queue []*batch
		pops  int // before clear
		want  []int64
	}{
		{name: "empty queue", want: nil},
		{
			name:  "every token of every batch, in order",
			queue: []*batch{readyTestBatch("a", 1, 2), readyTestBatch("b", 3), readyTestBatch("c", 4, 5)},
			want:  []int64{1, 2, 3, 4, 5},
		},
		{
			name:  "popped batches are not returned",
			queue: []*batch{readyTestBatch("a", 1, 2), readyTestBatch("b", 3)},
			pops:  1,
			want:  []int64{3},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var q readyQueue
			q.push(c.queue...)
			for range c.pops {
				q.pop()
			}
			if got := q.clear(); !reflect.DeepEqual(got, c.want) {
				t.Errorf("clear() = %v, want %v", got, c.want)
			}
			if q.batches() != 0 || q.urls != 0 {
				t.Errorf("after clear: %d batches, %d URLs; want 0, 0", q.batches(), q.urls)
			}
			if b := q.pop(); b != nil {
				t.Errorf("after clear: pop() = batch %s, want nil", b.id)
			}
			if got := q.clear(); got != nil {
				t.Errorf("second clear() = %v, want nil", got)
			}
		})
	}
}
