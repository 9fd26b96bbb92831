package dispatch

import (
	"cmp"
	"hash/fnv"
	"slices"

	"github.com/crawlmaster/crawlmaster/master/store"
)

// member is a live assistant as the owner table sees it: its id and its
// weight, the number of worker slots it reported.
type member struct {
	id    string
	slots int
}

// rendezvousScore ranks assistant id for shard: a shard prefers the live
// assistants in decreasing order of score.
func rendezvousScore(id string, shard int16) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	_, _ = h.Write([]byte{byte(shard >> 8), byte(shard)})
	// FNV's low bits mix poorly for short inputs; finish with a 64-bit mixer
	// (splitmix64) so scores are uniform.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// ownerTable maps every shard to the live assistant that owns it ("" for
// all shards when none is live).
//
// Plain rendezvous hashing (each shard to its highest-scoring assistant)
// moves only a leaver's shards, but its split is binomial: with two
// assistants one got up to 53% of the URLs in the benchmarks and, in the
// latency-bound one, finished its domains 2-3 s after the other, whose
// slots then idled; and it ignores that assistants have different numbers
// of slots. So each
// assistant gets a quota of shards proportional to its slots, and shards
// are handed out by rendezvous preference within the quotas: all
// (shard, assistant) pairs are taken in decreasing score order, and a pair
// is used when its shard has no owner yet and its assistant has quota
// left. The table depends only on the live set and its slot counts, so an
// assistant that returns gets its shards back; when one leaves, its shards
// move and, to keep the split proportional, a few others (at most 3% of
// the shards with up to 16 equal assistants; TestOwnerTableMovesFewShards).
func ownerTable(live []member) *[store.NumShards]string {
	var owners [store.NumShards]string
	if len(live) == 0 {
		return &owners
	}
	live = slices.Clone(live)
	slices.SortFunc(live, func(a, b member) int { return cmp.Compare(a.id, b.id) })
	quota := shardQuotas(live)

	type pair struct {
		score uint64
		shard int16
		m     int32
	}
	pairs := make([]pair, 0, store.NumShards*len(live))
	for s := range int16(store.NumShards) {
		for i, m := range live {
			pairs = append(pairs, pair{rendezvousScore(m.id, s), s, int32(i)})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		if c := cmp.Compare(a.shard, b.shard); c != 0 {
			return c
		}
		return cmp.Compare(a.m, b.m)
	})
	left := store.NumShards
	for _, p := range pairs {
		if owners[p.shard] != "" || quota[p.m] == 0 {
			continue
		}
		owners[p.shard] = live[p.m].id
		quota[p.m]--
		if left--; left == 0 {
			break
		}
	}
	return &owners
}

// shardQuotas splits NumShards over live (sorted by id) in proportion to
// their slots, by largest remainder, ties to the earlier id. An assistant
// that reported no slots yet counts as one slot.
func shardQuotas(live []member) []int {
	total := 0
	for _, m := range live {
		total += max(1, m.slots)
	}
	quota := make([]int, len(live))
	rem := make([]int, len(live))
	given := 0
	for i, m := range live {
		w := max(1, m.slots) * store.NumShards
		quota[i], rem[i] = w/total, w%total
		given += quota[i]
	}
	order := make([]int, len(live))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rem[b], rem[a]) })
	for _, i := range order[:store.NumShards-given] {
		quota[i]++
	}
	return quota
}
