package frontier

// NumShards is the number of affinity shards. A URL's shard is
// Shard(domain), computed once when the URL enters the frontier and stored
// on its row; assistants own shards, never individual domains.
const NumShards = 1024

// Shard maps a domain to its affinity shard. The value is stored in the
// frontier, so this function must never change: rows imported by an older
// master keep the shard it gave them.
func Shard(domain string) int16 {
	return int16(fnv1a32(domain) % NumShards)
}

// OwnerScore ranks owner for shard in the rendezvous (highest random
// weight) assignment of shards to assistants: a shard prefers the live
// assistants in decreasing order of score. It is computed in memory only,
// never stored.
func OwnerScore(owner string, shard int16) uint64 {
	h := uint64(fnv64Offset)
	for i := 0; i < len(owner); i++ {
		h = (h ^ uint64(owner[i])) * fnv64Prime
	}
	h = (h ^ uint64(uint16(shard)>>8)) * fnv64Prime
	h = (h ^ uint64(uint8(shard))) * fnv64Prime
	// FNV's output is poorly mixed for inputs that differ in their last
	// bytes only (here the shard); finish with a 64-bit avalanche (the
	// finaliser of MurmurHash3) so scores are uniform.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

const (
	fnv64Offset = 14695981039346656037
	fnv64Prime  = 1099511628211
)

// fnv1a32 is 32-bit FNV-1a.
func fnv1a32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
