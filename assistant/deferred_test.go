package assistant_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/crawlmaster/crawlmaster/assistant"
	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/internal/promtest"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// The batch's max_politeness_wait becomes each fetch's MaxWait, and a
// result the fetcher deferred goes back DEFERRED with the wait left, counted
// apart from the results by class; the slot goes on with the batch.
func TestDeferredResult(t *testing.T) {
	rec := &recorder{results: map[string]*crawl.Result{
		"http://a.test/": {URL: "http://a.test/", FinalURL: "http://a.test/", Class: errclass.Canceled, Deferred: true,
			Robots: crawl.RobotsAllowed, NextRequestAfter: 900 * time.Millisecond, FetchedAt: time.Now()},
	}}
	reg := prometheus.NewRegistry()
	e := newEnvMetrics(t, 1, rec, assistant.NewMetrics(reg))
	req := batch("b", 0, "http://a.test/", "http://b.test/")
	req.MaxPolitenessWait = durationpb.New(50 * time.Millisecond)
	s, err := e.client.Crawl(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := recvAll(t, s)
	if len(rec.reqs) != 2 || rec.reqs[0].MaxWait != 50*time.Millisecond || rec.reqs[1].MaxWait != 50*time.Millisecond {
		t.Fatalf("requests %+v, want both with MaxWait 50ms", rec.reqs)
	}
	if len(got) != 2 {
		t.Fatalf("%d results, want 2", len(got))
	}
	if a := got[0]; a.GetDisposition() != pb.Disposition_DISPOSITION_DEFERRED || a.GetNextRequestAfter().AsDuration() != 900*time.Millisecond {
		t.Errorf("a: disposition %v, next_request_after %v; want DEFERRED, 900ms", a.GetDisposition(), a.GetNextRequestAfter().AsDuration())
	}
	if b := got[1]; b.GetDisposition() != pb.Disposition_DISPOSITION_FETCHED {
		t.Errorf("b: disposition %v, want FETCHED", b.GetDisposition())
	}
	if n := promtest.Value(t, reg, "crawlmaster_assistant_deferred_total", nil); n != 1 {
		t.Errorf("deferred_total = %v, want 1", n)
	}
	if n := promtest.Value(t, reg, "crawlmaster_assistant_results_total", map[string]string{"class": "canceled"}); n != 0 {
		t.Errorf("results_total{class=canceled} = %v, want 0: a deferral is no result", n)
	}
}
