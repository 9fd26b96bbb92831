package assistant_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// recorder returns a fixed result per URL and records the requests.
type recorder struct {
	mu      sync.Mutex
	reqs    []crawl.Request
	results map[string]*crawl.Result
}

func (r *recorder) Fetch(ctx context.Context, req crawl.Request) *crawl.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	if res := r.results[req.URL]; res != nil {
		return res
	}
	return &crawl.Result{URL: req.URL, FinalURL: req.URL, Status: 200, Class: errclass.OK, FetchedAt: time.Now()}
}

// TestPolicyAndLinks: each task's policy becomes the fetch's Request (no
// policy: follow redirects, nothing else), and the result's links, their
// kinds, the counts, noindex/nofollow and next_request_after reach the
// master.
func TestPolicyAndLinks(t *testing.T) {
	rec := &recorder{results: map[string]*crawl.Result{
		"http://a.test/": {URL: "http://a.test/", FinalURL: "http://a.test/", Status: 200, Class: errclass.OK,
			Body: []byte("<html>"), BodySize: 6, FetchedAt: time.Now(),
			Links: []crawl.Link{{URL: "http://a.test/x", Kind: crawl.LinkAnchor}, {URL: "http://a.test/f", Kind: crawl.LinkFrame},
				{URL: "http://a.test/s", Kind: crawl.LinkSitemap}},
			LinksDropped: 7, LinksTooLong: 2, NoIndex: true, NextRequestAfter: 1500 * time.Millisecond},
		"http://b.test/": {URL: "http://b.test/", FinalURL: "http://b.test/", Status: 301, Class: errclass.OK, FetchedAt: time.Now(),
			Links: []crawl.Link{{URL: "https://b.test/", Kind: crawl.LinkRedirect}}, NoFollow: true},
	}}
	e := newEnv(t, 1, rec)
	req := batch("b", 0, "http://a.test/", "http://b.test/", "http://c.test/")
	req.Tasks[0].Policy = &pb.FetchPolicy{MaxLinks: 50, Sitemaps: true}
	req.Tasks[1].Policy = &pb.FetchPolicy{FollowRedirects: true, MaxLinks: 1 << 31}
	s, err := e.client.Crawl(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := recvAll(t, s)
	wantReqs := []crawl.Request{
		{URL: "http://a.test/", MaxLinks: 50, Sitemaps: true},
		{URL: "http://b.test/", FollowRedirects: true, MaxLinks: 100000},
		{URL: "http://c.test/", FollowRedirects: true},
	}
	if len(rec.reqs) != len(wantReqs) {
		t.Fatalf("requests %+v", rec.reqs)
	}
	for i, w := range wantReqs {
		if rec.reqs[i] != w {
			t.Errorf("task %d: request %+v, want %+v", i, rec.reqs[i], w)
		}
	}
	if len(got) != 3 {
		t.Fatalf("%d results", len(got))
	}
	wantA := &pb.CrawlResult{Links: []*pb.Link{
		{Url: "http://a.test/x", Kind: pb.LinkKind_LINK_KIND_ANCHOR},
		{Url: "http://a.test/f", Kind: pb.LinkKind_LINK_KIND_FRAME},
		{Url: "http://a.test/s", Kind: pb.LinkKind_LINK_KIND_SITEMAP},
	}, LinksDropped: 7, Noindex: true}
	a := got[0]
	if !proto.Equal(&pb.CrawlResult{Links: a.GetLinks(), LinksDropped: a.GetLinksDropped(), Noindex: a.GetNoindex(), Nofollow: a.GetNofollow()}, wantA) ||
		a.GetNextRequestAfter().AsDuration() != 1500*time.Millisecond || string(a.GetBody()) != "<htm" {
		t.Errorf("result a: %v", a)
	}
	b := got[1]
	if len(b.GetLinks()) != 1 || b.GetLinks()[0].GetKind() != pb.LinkKind_LINK_KIND_REDIRECT || b.GetHttpStatus() != 301 ||
		!b.GetNofollow() || b.GetNextRequestAfter() != nil || b.GetErrorClass() != pb.ErrorClass_ERROR_CLASS_OK {
		t.Errorf("result b: %v", b)
	}
	if c := got[2]; len(c.GetLinks()) != 0 || c.GetLinksDropped() != 0 || c.GetNoindex() || c.GetNofollow() {
		t.Errorf("result c: %v", c)
	}
}
