package assistant_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// announcer fetches like the crawl stack does: a URL whose path contains
// "private" is refused by robots.txt before any page request, the others
// announce their request (crawl.RequestStarting) and succeed.
type announcer struct{}

func (announcer) Fetch(ctx context.Context, req crawl.Request) *crawl.Result {
	url := req.URL
	if strings.Contains(url, "private") {
		return &crawl.Result{URL: url, Class: errclass.RobotsDisallowed, Robots: crawl.RobotsDisallowed, FetchedAt: time.Now()}
	}
	crawl.RequestStarting(ctx)
	return &crawl.Result{URL: url, FinalURL: url, Status: 200, Class: errclass.OK, Robots: crawl.RobotsAllowed, FetchedAt: time.Now()}
}

// TestCrawlAnnouncesEachRequestedPage checks the stream carries, in batch
// order, a STARTED message before the result of every task whose page was
// requested, and none for a task that ended before (robots.txt).
func TestCrawlAnnouncesEachRequestedPage(t *testing.T) {
	e := newEnv(t, 1, announcer{})
	s, err := e.client.Crawl(context.Background(), batch("b", 0, "http://a.test/", "http://b.test/private/", "http://c.test/"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recvAll(t, s) {
		got = append(got, r.GetUrl()+" "+r.GetDisposition().String())
		if r.GetDisposition() == pb.Disposition_DISPOSITION_STARTED && (r.GetLeaseToken() == 0 || r.GetUrlId() == 0) {
			t.Errorf("STARTED message without its task's ids: %v", r)
		}
	}
	// A STARTED message carries only the task's ids, not its URL.
	want := []string{
		" DISPOSITION_STARTED", "http://a.test/ DISPOSITION_FETCHED",
		"http://b.test/private/ DISPOSITION_FETCHED",
		" DISPOSITION_STARTED", "http://c.test/ DISPOSITION_FETCHED",
	}
	if !slices.Equal(got, want) {
		t.Errorf("stream:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
