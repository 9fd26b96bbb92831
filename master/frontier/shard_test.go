package frontier

import (
	"math"
	"testing"
)

// TestShardIsFNV1a32 pins Shard to 32-bit FNV-1a (test vectors from the
// FNV reference): shards are stored in the frontier, so a change of hash
// would silently move every existing row's domain to another shard.
func TestShardIsFNV1a32(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
	}{
		{"", 0x811c9dc5},
		{"a", 0xe40c292c},
		{"foobar", 0xbf9cf968},
	} {
		if got := fnv1a32(c.in); got != c.want {
			t.Errorf("fnv1a32(%q) = %#x, want %#x", c.in, got, c.want)
		}
		if got := Shard(c.in); got != int16(c.want%NumShards) {
			t.Errorf("Shard(%q) = %d, want %d", c.in, got, c.want%NumShards)
		}
	}
}

// TestOwnerScoreIsUniform checks the scores of one owner over all shards
// look uniform: their top bits split evenly, so rendezvous ownership does
// not favour an assistant by name.
func TestOwnerScoreIsUniform(t *testing.T) {
	for _, owner := range []string{"127.0.0.1:20061", "127.0.0.1:20062", "a", ""} {
		var buckets [8]int
		for s := range int16(NumShards) {
			buckets[OwnerScore(owner, s)>>61]++
		}
		// 128 expected per bucket; a chi-square over 7 degrees of freedom
		// above 24.3 has a probability below 0.1%.
		chi := 0.0
		for _, n := range buckets {
			d := float64(n) - NumShards/8
			chi += d * d / (NumShards / 8)
		}
		if chi > 24.3 || math.IsNaN(chi) {
			t.Errorf("owner %q: score buckets %v (chi-square %.1f)", owner, buckets, chi)
		}
	}
	if OwnerScore("a", 1) == OwnerScore("a", 256) {
		t.Error("shards 1 and 256 score alike: the shard's high byte is ignored")
	}
}

func TestFinalStates(t *testing.T) {
	final := map[State]bool{StateDone: true, StateFailed: true, StateDead: true}
	for _, s := range AllStates {
		if s.Final() != final[s] {
			t.Errorf("%s.Final() = %v", s, s.Final())
		}
	}
}
