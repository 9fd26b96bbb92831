package dispatch

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

func TestReadyQueueDropUnowned(t *testing.T) {
	cases := []struct {
		name     string
		queue    []*batch
		owned    []int16
		wantDrop []int64
		want     []string
		wantURLs int
	}{
		{
			name: "empty queue",
			want: []string{},
		},
		{
			name:     "all owned: nothing dropped",
			queue:    []*batch{readyTestBatch("a", 101, 201), readyTestBatch("b", 102)},
			owned:    []int16{1, 2},
			want:     []string{"a[101 201]", "b[102]"},
			wantURLs: 3,
		},
		{
			name:     "none owned: queue emptied",
			queue:    []*batch{readyTestBatch("a", 101, 201), readyTestBatch("b", 102)},
			wantDrop: []int64{101, 201, 102},
			want:     []string{},
		},
		{
			name: "tasks dropped from within batches keep their order",
			queue: []*batch{
				readyTestBatch("a", 101, 201, 102, 202, 103),
				readyTestBatch("b", 204, 104),
			},
			owned:    []int16{1},
			wantDrop: []int64{201, 202, 204},
			want:     []string{"a[101 102 103]", "b[104]"},
			wantURLs: 4,
		},
		{
			name: "emptied batches are removed, the others keep their order",
			queue: []*batch{
				readyTestBatch("a", 201),
				readyTestBatch("b", 101, 202),
				readyTestBatch("c", 203, 204),
				readyTestBatch("d", 102),
				readyTestBatch("e", 205),
			},
			owned:    []int16{1},
			wantDrop: []int64{201, 202, 203, 204, 205},
			want:     []string{"b[101]", "d[102]"},
			wantURLs: 2,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var q readyQueue
			q.push(c.queue...)
			owned := map[int16]bool{}
			for _, s := range c.owned {
				owned[s] = true
			}
			if got := q.dropUnowned(func(s int16) bool { return owned[s] }); !reflect.DeepEqual(got, c.wantDrop) {
				t.Errorf("dropped %v, want %v", got, c.wantDrop)
			}
			if got := readyTestContents(&q); !reflect.DeepEqual(got, c.want) {
				t.Errorf("queue = %v, want %v", got, c.want)
			}
			if q.urls != c.wantURLs {
				t.Errorf("urls = %d, want %d", q.urls, c.wantURLs)
			}
			if q.batches() != len(c.want) {
				t.Errorf("batches() = %d, want %d", q.batches(), len(c.want))
			}
			// The queue stays usable: a pushed batch comes out after the
			// kept ones, and the counts add up.
			q.push(readyTestBatch("z", 999))
			for range len(c.want) {
				q.pop()
			}
			if b := q.pop(); b == nil || b.id != "z" {
				t.Errorf("after dropUnowned, push, pops: got %v, want batch z", b)
			}
			if q.urls != 0 || q.batches() != 0 {
				t.Errorf("after popping everything: %d batches, %d URLs; want 0, 0", q.batches(), q.urls)
			}
		})
	}
}

func TestFormBatchesTable(t *testing.T) {
	type task struct {
		tok int64
		dom string
	}
	cases := []struct {
		name          string
		tasks         []task
		target, limit int
		want          []string // "id[tokens]" per batch, in order
		wantExtra     []int64
	}{
		{
			name:   "no tasks",
			target: 2, limit: 4,
		},
		{
			name:   "one URL per domain, batches of target",
			tasks:  []task{{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}, {5, "e"}},
			target: 2, limit: 4,
			want: []string{"b1[1 2]", "b2[3 4]", "b3[5]"},
		},
		{
			name:   "a domain's URLs stay in one batch beyond target",
			tasks:  []task{{1, "a"}, {2, "a"}, {3, "a"}, {4, "b"}},
			target: 2, limit: 5,
			want: []string{"b1[1 2 3]", "b2[4]"},
		},
		{
			name:   "interleaved domains grouped in order of first appearance",
			tasks:  []task{{1, "a"}, {2, "b"}, {3, "a"}, {4, "c"}, {5, "b"}},
			target: 2, limit: 4,
			want: []string{"b1[1 3]", "b2[2 5]", "b3[4]"},
		},
		{
			name:   "a domain that would take a batch past limit starts a new one",
			tasks:  []task{{1, "a"}, {2, "a"}, {3, "a"}, {4, "b"}, {5, "b"}, {6, "b"}, {7, "c"}},
			target: 4, limit: 5,
			want: []string{"b1[1 2 3]", "b2[4 5 6 7]"},
		},
		{
			name:   "a batch under target takes a domain that fits in limit",
			tasks:  []task{{1, "a"}, {2, "b"}, {3, "b"}, {4, "b"}},
			target: 2, limit: 4,
			want: []string{"b1[1 2 3 4]"},
		},
		{
			name:   "a domain over limit keeps its first limit URLs, the rest is extra",
			tasks:  []task{{1, "a"}, {2, "b"}, {3, "a"}, {4, "a"}, {5, "a"}, {6, "b"}, {7, "a"}},
			target: 3, limit: 3,
			want:      []string{"b1[1 3 4]", "b2[2 6]"},
			wantExtra: []int64{5, 7},
		},
		{
			name:   "target above limit is capped at limit",
			tasks:  []task{{1, "a"}, {2, "b"}, {3, "c"}},
			target: 10, limit: 2,
			want: []string{"b1[1 2]", "b2[3]"},
		},
		{
			name:   "target zero is taken as one",
			tasks:  []task{{1, "a"}, {2, "b"}, {3, "b"}},
			target: 0, limit: 4,
			want: []string{"b1[1]", "b2[2 3]"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tasks []frontier.Task
			for _, tk := range c.tasks {
				tasks = append(tasks, frontier.Task{URLID: tk.tok, Token: tk.tok, Domain: tk.dom})
			}
			ids := 0
			newID := func() string { ids++; return fmt.Sprint("b", ids) }
			batches, extra := formBatches(tasks, c.target, c.limit, newID)
			got := []string{}
			where := map[string]string{}
			for _, b := range batches {
				got = append(got, fmt.Sprint(b.id, readyTestTokens(b.tasks)))
				if len(b.tasks) > c.limit {
					t.Errorf("batch %s has %d URLs, more than limit %d", b.id, len(b.tasks), c.limit)
				}
				for _, tk := range b.tasks {
					if prev, ok := where[tk.Domain]; ok && prev != b.id {
						t.Errorf("domain %s split across batches %s and %s", tk.Domain, prev, b.id)
					}
					where[tk.Domain] = b.id
				}
			}
			want := c.want
			if want == nil {
				want = []string{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("batches = %v, want %v", got, want)
			}
			if !reflect.DeepEqual(extra, c.wantExtra) {
				t.Errorf("extra = %v, want %v", extra, c.wantExtra)
			}
			if ids != len(batches) {
				t.Errorf("newID called %d times for %d batches", ids, len(batches))
			}
		})
	}
}
