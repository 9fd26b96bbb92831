package dispatch

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// owners is the shard owner table the feeders share: which live assistant
// owns each shard. Lookups are lock-free (an atomic pointer to an
// immutable table); changes, rare, take a lock.
type owners struct {
	table atomic.Pointer[[frontier.NumShards]string]
	mu    sync.Mutex
	slots map[string]int // live assistant id -> its slots
}

func (o *owners) init() {
	o.table.Store(&[frontier.NumShards]string{})
	o.slots = map[string]int{}
}

// owner returns the id of the assistant that owns shard ("" for none).
func (o *owners) owner(shard int16) string { return o.table.Load()[shard] }

// shardsOf lists the shards id owns now.
func (o *owners) shardsOf(id string) []int16 {
	var out []int16
	for s, owner := range o.table.Load() {
		if owner == id {
			out = append(out, int16(s))
		}
	}
	return out
}

// set records whether id is live and with how many slots, and recomputes
// the table when that changed. It returns the number of live assistants
// and whether anything changed.
func (o *owners) set(id string, live bool, slots int) (int, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if have, ok := o.slots[id]; ok == live && (!live || have == slots) {
		return len(o.slots), false
	}
	if live {
		o.slots[id] = slots
	} else {
		delete(o.slots, id)
	}
	members := make([]member, 0, len(o.slots))
	for id, n := range o.slots {
		members = append(members, member{id: id, slots: n})
	}
	o.table.Store(ownerTable(members))
	return len(o.slots), true
}

// member is a live assistant as the owner table sees it: its id and its
// weight, the number of worker slots it reported.
type member struct {
	id    string
	slots int
}

// ownerTable maps every shard to the live assistant that owns it ("" for
// all shards when none is live).
//
// Plain rendezvous hashing (each shard to its highest-scoring assistant)
// moves only a leaver's shards, but its split is binomial, so one
// assistant gets noticeably more domains, finishes later and leaves the
// other's slots idle at the end of a crawl (BENCHMARKS.md, item 13); and
// it ignores that assistants have different numbers of slots. So each
// assistant gets a quota of shards proportional to its slots, and shards
// are handed out by rendezvous preference within the quotas: all
// (shard, assistant) pairs are taken in decreasing score order, and a pair
// is used when its shard has no owner yet and its assistant has quota
// left. The table depends only on the live set and its slot counts, so an
// assistant that returns gets its shards back; when one leaves, its shards
// move and, to keep the split proportional, a few others (at most 3% of
// the shards with up to 16 equal assistants; TestOwnerTableMovesFewShards).
func ownerTable(live []member) *[frontier.NumShards]string {
	var owners [frontier.NumShards]string
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
	pairs := make([]pair, 0, frontier.NumShards*len(live))
	for s := range int16(frontier.NumShards) {
		for i, m := range live {
			pairs = append(pairs, pair{frontier.OwnerScore(m.id, s), s, int32(i)})
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
	left := frontier.NumShards
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
		w := max(1, m.slots) * frontier.NumShards
		quota[i], rem[i] = w/total, w%total
		given += quota[i]
	}
	order := make([]int, len(live))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rem[b], rem[a]) })
	for _, i := range order[:frontier.NumShards-given] {
		quota[i]++
	}
	return quota
}
