package dispatch

import "testing"

// A crawl reads a host's sitemaps once: while one task reads them, and
// after it has, no other seed of the host asks; a task that came back
// without reading them frees the host for the next seed. Crawls and hosts
// are independent; host case does not matter.
func TestSitemapHostsOncePerCrawlAndHost(t *testing.T) {
	s := newSitemapHosts()
	k1, ok := s.ask(1, "http://a.test/")
	if !ok {
		t.Fatal("first seed of a.test not asked to read sitemaps")
	}
	if _, ok := s.ask(1, "http://A.test/other"); ok {
		t.Error("a second seed of a.test asked while the first reads them")
	}
	if _, ok := s.ask(2, "http://a.test/"); !ok {
		t.Error("another crawl's seed of a.test not asked")
	}
	if _, ok := s.ask(1, "http://b.test/"); !ok {
		t.Error("a seed of b.test not asked")
	}
	s.done(k1, false) // the page failed: sitemaps not read
	k2, ok := s.ask(1, "http://a.test/retry")
	if !ok || k2 != k1 {
		t.Fatalf("after an unread answer: ask = %v (key %x, first %x), want asked with the same key", ok, k2, k1)
	}
	s.done(k2, true)
	if _, ok := s.ask(1, "http://a.test/third"); ok {
		t.Error("a seed of a.test asked after its sitemaps were read")
	}
	s.done(k2, false) // a late unread answer does not undo a read
	if _, ok := s.ask(1, "http://a.test/fourth"); ok {
		t.Error("a seed of a.test asked after its sitemaps were read (and a later task did not read them)")
	}
	var none *sitemapHosts
	if _, ok := none.ask(1, "http://a.test/"); !ok {
		t.Error("a nil set does not ask")
	}
}
