package dispatch

import (
	"hash/fnv"

	"github.com/crawlmaster/crawlmaster/master/store"
)

// rendezvousScore ranks assistant id for shard: the live assistant with the
// highest score owns the shard. When an assistant leaves, only its shards
// move (each to its runner-up); when it returns, only those move back.
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

// ownerTable maps every shard to the live id that owns it ("" for all
// shards when none is live).
func ownerTable(live []string) *[store.NumShards]string {
	var owners [store.NumShards]string
	for s := range owners {
		owners[s] = ownerOfShard(int16(s), live)
	}
	return &owners
}

func ownerOfShard(s int16, live []string) string {
	best, bestScore := "", uint64(0)
	for _, id := range live {
		if sc := rendezvousScore(id, s); best == "" || sc > bestScore || (sc == bestScore && id < best) {
			best, bestScore = id, sc
		}
	}
	return best
}
