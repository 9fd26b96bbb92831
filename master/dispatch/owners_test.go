package dispatch

import (
	"fmt"
	"slices"
	"testing"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

func members(slots int, ids ...string) []member {
	out := make([]member, len(ids))
	for i, id := range ids {
		out[i] = member{id: id, slots: slots}
	}
	return out
}

func countOwned(t *testing.T, owners *[frontier.NumShards]string) map[string]int {
	t.Helper()
	owned := map[string]int{}
	for s, id := range owners {
		if id == "" {
			t.Fatalf("shard %d has no owner", s)
		}
		owned[id]++
	}
	return owned
}

// Equal assistants own equal shares, to one shard: plain rendezvous
// hashing splits 1024 shards binomially (±16 shards, one standard
// deviation, with two assistants).
func TestOwnerTableSplitsShardsEvenly(t *testing.T) {
	for n := 1; n <= 7; n++ {
		var ids []string
		for i := range n {
			ids = append(ids, fmt.Sprintf("10.0.0.%d:20061", i+3))
		}
		owned := countOwned(t, ownerTable(members(100, ids...)))
		if len(owned) != n {
			t.Fatalf("%d of %d assistants own shards", len(owned), n)
		}
		for id, got := range owned {
			if got < frontier.NumShards/n || got > frontier.NumShards/n+1 {
				t.Errorf("%d assistants: %s owns %d shards, want %d or %d", n, id, got, frontier.NumShards/n, frontier.NumShards/n+1)
			}
		}
	}
	for s, id := range ownerTable(nil) {
		if id != "" {
			t.Fatalf("shard %d owned by %q with no live assistants", s, id)
		}
	}
}

// Shares follow the slots: an assistant with three times the slots owns
// three times the shards.
func TestOwnerTableWeighsBySlots(t *testing.T) {
	owned := countOwned(t, ownerTable([]member{{"big:1", 300}, {"small:1", 100}, {"new:1", 0}}))
	// Weights 300, 100 and 1 (no slots reported yet counts as one).
	want := map[string]int{"big:1": 766, "small:1": 255, "new:1": 3}
	for id, w := range want {
		if owned[id] != w {
			t.Errorf("%s owns %d shards, want %d (all: %v)", id, owned[id], w, owned)
		}
	}
}

// Quotas aside, a shard goes to the assistant it prefers: most shards are
// owned by their highest-scoring assistant, as in plain rendezvous hashing.
func TestOwnerTableFollowsPreference(t *testing.T) {
	live := members(50, "a:1", "b:1", "c:1")
	owners := ownerTable(live)
	first := 0
	for s, id := range owners {
		best, bestScore := "", uint64(0)
		for _, m := range live {
			if sc := frontier.OwnerScore(m.id, int16(s)); best == "" || sc > bestScore {
				best, bestScore = m.id, sc
			}
		}
		if id == best {
			first++
		}
	}
	if first < frontier.NumShards*90/100 {
		t.Fatalf("%d of %d shards owned by their first choice, want at least 90%%", first, frontier.NumShards)
	}
}

// When an assistant leaves, its shards move and only a few others (to
// even out the split); when it returns, exactly the old table is back.
func TestOwnerTableMovesFewShards(t *testing.T) {
	for _, n := range []int{2, 3, 4, 8, 16} {
		var all []member
		for i := range n {
			all = append(all, member{id: fmt.Sprintf("10.0.1.%d:20061", i), slots: 64})
		}
		before := ownerTable(all)
		for leave := range all {
			without := append(slices.Clone(all[:leave]), all[leave+1:]...)
			after := ownerTable(without)
			gone, moved := all[leave].id, 0
			for s := range before {
				switch {
				case after[s] == gone:
					t.Fatalf("shard %d still owned by the departed %s", s, gone)
				case before[s] != gone && after[s] != before[s]:
					moved++
				}
			}
			if moved > frontier.NumShards*4/100 {
				t.Errorf("%d assistants, %s left: %d shards of staying assistants moved, want at most 4%%", n, gone, moved)
			}
			if back := ownerTable(all); *back != *before {
				t.Fatalf("%d assistants: table differs after %s returned", n, gone)
			}
		}
	}
}

func TestOwnerTableIgnoresLiveOrder(t *testing.T) {
	if *ownerTable(members(8, "x:1", "y:1", "z:1")) != *ownerTable(members(8, "z:1", "x:1", "y:1")) {
		t.Fatal("shard owners depend on the order of the live list")
	}
}

func TestFormBatches(t *testing.T) {
	var seq int
	newID := func() string { seq++; return fmt.Sprint(seq) }
	task := func(tok int64, dom string) frontier.Task { return frontier.Task{Token: tok, Domain: dom, URLID: tok} }
	tasks := []frontier.Task{
		task(1, "a"), task(2, "b"), task(3, "a"), task(4, "c"), task(5, "a"), task(6, "a"), task(7, "d"), task(8, "e"),
	}
	batches, extra := formBatches(tasks, 3, 3, newID)
	// Domain a has 4 URLs but a batch holds 3: one is returned as extra.
	if len(extra) != 1 || extra[0] != 6 {
		t.Fatalf("extra = %v, want [6]", extra)
	}
	where := map[string]string{}
	n := 0
	for _, b := range batches {
		if len(b.tasks) == 0 || len(b.tasks) > 3 {
			t.Fatalf("batch %s has %d tasks", b.id, len(b.tasks))
		}
		for _, tk := range b.tasks {
			n++
			if prev, ok := where[tk.Domain]; ok && prev != b.id {
				t.Fatalf("domain %s split across batches %s and %s", tk.Domain, prev, b.id)
			}
			where[tk.Domain] = b.id
		}
	}
	if n+len(extra) != len(tasks) {
		t.Fatalf("%d tasks batched + %d extra, want %d", n, len(extra), len(tasks))
	}
}

// A small claim spread over many free slots becomes one-URL batches, but a
// domain's URLs still stay together.
func TestFormBatchesSmallTarget(t *testing.T) {
	n := 0
	newID := func() string { n++; return fmt.Sprint(n) }
	tasks := []frontier.Task{{Token: 1, Domain: "a"}, {Token: 2, Domain: "b"}, {Token: 3, Domain: "a"}, {Token: 4, Domain: "c"}}
	batches, extra := formBatches(tasks, 1, 16, newID)
	if len(extra) != 0 || len(batches) != 3 {
		t.Fatalf("got %d batches, extra %v; want 3 batches (a,a | b | c)", len(batches), extra)
	}
	if len(batches[0].tasks) != 2 || batches[0].tasks[1].Token != 3 {
		t.Fatalf("first batch %v, want both URLs of domain a", batches[0].tasks)
	}
}
