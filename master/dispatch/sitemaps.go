package dispatch

import (
	"encoding/binary"
	"hash/maphash"
	"net/url"
	"strings"
	"sync"
)

// sitemapHosts makes a crawl read each host's sitemaps once, however many
// of its seeds are on that host (a list of a thousand URLs of one site, a
// seed whose redirect target is a seed too): a seed's task asks for them
// only when no task of the same crawl and host is reading them or has
// read them this term. A task that comes back without having read them
// (its page failed, its batch broke) gives the host back, so the host's
// next seed, or the same URL's retry, asks again.
//
// The set lives for the leader's term: a new term may read a host's
// sitemaps once more, for seeds of it still pending. It holds a 64-bit
// hash per (crawl, host), about 40 bytes an entry with the map's
// overhead (40 MB for a million seed hosts).
type sitemapHosts struct {
	mu   sync.Mutex
	seed maphash.Seed
	m    map[uint64]sitemapState
}

type sitemapState uint8

const (
	sitemapsReading sitemapState = iota + 1
	sitemapsRead
)

func newSitemapHosts() *sitemapHosts {
	return &sitemapHosts{seed: maphash.MakeSeed(), m: make(map[uint64]sitemapState)}
}

// ask reports whether the task of crawl for rawURL should read its host's
// sitemaps, and marks the host as being read if so; key identifies it
// for done. A nil set always asks.
func (s *sitemapHosts) ask(crawl int32, rawURL string) (key uint64, ok bool) {
	if s == nil {
		return 0, true
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, true
	}
	var h maphash.Hash
	h.SetSeed(s.seed)
	var c [4]byte
	binary.LittleEndian.PutUint32(c[:], uint32(crawl))
	_, _ = h.Write(c[:])
	_, _ = h.WriteString(strings.ToLower(u.Host))
	key = h.Sum64()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[key] != 0 {
		return key, false
	}
	s.m[key] = sitemapsReading
	return key, true
}

// done records the answer of a task that asked: read, or not (the host
// is free for the next asker).
func (s *sitemapHosts) done(key uint64, read bool) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if read {
		s.m[key] = sitemapsRead
	} else if s.m[key] == sitemapsReading {
		delete(s.m, key)
	}
}
