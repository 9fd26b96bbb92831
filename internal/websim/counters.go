package websim

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Path ids of the paths that profiles define; other paths are counted by
// name.
const (
	pidRobots = iota
	pidRoot
	pidLanding
	pidHop1
	pidHop2
	pidHop3
	pidAbout
	pidPrivate
	numPids
)

// pathID returns the id of a profile-defined path, or -1.
func pathID(path string) int {
	switch path {
	case robotsPath:
		return pidRobots
	case "/":
		return pidRoot
	case landingPath:
		return pidLanding
	case "/hop/1":
		return pidHop1
	case "/hop/2":
		return pidHop2
	case "/hop/3":
		return pidHop3
	case aboutPath:
		return pidAbout
	case privateHome:
		return pidPrivate
	}
	return -1
}

// knownKey packs (rank, www, path id) into one word: 16 bytes per counter.
func knownKey(rank int, www bool, pid int) uint64 {
	k := uint64(rank)<<4 | uint64(pid)
	if www {
		k |= 1 << 3
	}
	return k
}

type otherKey struct{ host, path string }

const numShards = 64

type counterShard struct {
	mu    sync.Mutex
	known map[uint64]int64
	pages map[uint64]int64 // regular pages of sites, by pageKey
	other map[otherKey]int64
	_     [32]byte // keep shards on separate cache lines
}

// counters counts requests per (host, path): the path as received, with
// "?query" when the request had one. Counters exist only for requested
// pairs; profile-defined paths of served hosts and the regular pages of
// sites (on the bare domain) use a compact integer key.
type counters struct {
	shards [numShards]counterShard
}

// pageKey packs (rank, regular page index) into one word.
func pageKey(rank, idx int) uint64 { return uint64(rank)<<20 | uint64(idx) }

// addPage increments and returns the count of a regular site page.
func (c *counters) addPage(k uint64) int64 {
	sh := &c.shards[mix64(k)%numShards]
	sh.mu.Lock()
	if sh.pages == nil {
		sh.pages = make(map[uint64]int64)
	}
	n := sh.pages[k] + 1
	sh.pages[k] = n
	sh.mu.Unlock()
	return n
}

func (c *counters) getPage(k uint64) int64 {
	sh := &c.shards[mix64(k)%numShards]
	sh.mu.Lock()
	n := sh.pages[k]
	sh.mu.Unlock()
	return n
}

func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// addKnown increments and returns the count of a compact key.
func (c *counters) addKnown(k uint64) int64 {
	sh := &c.shards[mix64(k)%numShards]
	sh.mu.Lock()
	if sh.known == nil {
		sh.known = make(map[uint64]int64)
	}
	n := sh.known[k] + 1
	sh.known[k] = n
	sh.mu.Unlock()
	return n
}

func (c *counters) getKnown(k uint64) int64 {
	sh := &c.shards[mix64(k)%numShards]
	sh.mu.Lock()
	n := sh.known[k]
	sh.mu.Unlock()
	return n
}

// addOther increments and returns the count of (host, path).
func (c *counters) addOther(host, path string) int64 {
	sh := &c.shards[fnv(host)%numShards]
	k := otherKey{host, path}
	sh.mu.Lock()
	n, ok := sh.other[k]
	if !ok {
		if sh.other == nil {
			sh.other = make(map[otherKey]int64)
		}
		k = otherKey{strings.Clone(host), strings.Clone(path)}
	}
	sh.other[k] = n + 1
	sh.mu.Unlock()
	return n + 1
}

func (c *counters) getOther(host, path string) int64 {
	sh := &c.shards[fnv(host)%numShards]
	sh.mu.Lock()
	n := sh.other[otherKey{host, path}]
	sh.mu.Unlock()
	return n
}

// maxDisallowedKept bounds the memory of the disallowed-hit log; the count
// is always exact.
const maxDisallowedKept = 10000

type disallowedLog struct {
	n    atomic.Int64
	mu   sync.Mutex
	hits []string
}

func (d *disallowedLog) add(host, path string) {
	if d.n.Add(1) > maxDisallowedKept {
		return
	}
	d.mu.Lock()
	d.hits = append(d.hits, host+" "+path)
	d.mu.Unlock()
}

func (d *disallowedLog) list() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.hits)
}
