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
