package dispatch

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/retry"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// TestDecideCountsOnlyRequests checks a result the assistant decided from
// a remembered robots.txt failure, without sending anything, costs no
// attempt (not even the last one) and is retried when that failure is
// forgotten, while the same class from a real request is an attempt.
func TestDecideCountsOnlyRequests(t *testing.T) {
	cfg := &Config{Retry: retry.Policy{MaxAttempts: 3, BaseDelay: time.Second, MaxDelay: time.Hour}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	task := frontier.Task{URLID: 1, Token: 2, URL: "http://a.test/", Attempts: 3} // the last allowed attempt
	res := func(notRequested bool) *pb.CrawlResult {
		return &pb.CrawlResult{ErrorClass: pb.ErrorClass_ERROR_CLASS_ROBOTS_UNAVAILABLE, NotRequested: notRequested,
			RetryAfter: durationpb.New(4 * time.Minute), Disposition: pb.Disposition_DISPOSITION_FETCHED}
	}
	o := decide(cfg, "a", task, res(true), nil, nil, now, 0.5)
	if o.State != frontier.StatePending || o.Attempts != 2 || !o.NextFetchAt.Equal(now.Add(4*time.Minute)) {
		t.Errorf("not requested: %s, attempts %d, due %v; want pending, 2 attempts counted, due when the verdict expires (4m)",
			o.State, o.Attempts, o.NextFetchAt.Sub(now))
	}
	if o := decide(cfg, "a", task, res(false), nil, nil, now, 0.5); o.State != frontier.StateDead || o.Attempts != 3 {
		t.Errorf("requested: %s after %d attempts, want dead after 3", o.State, o.Attempts)
	}
	// A permanent verdict is final whether or not it was requested now.
	perm := res(true)
	perm.ErrorClass = pb.ErrorClass_ERROR_CLASS_DNS_NOT_FOUND
	if o := decide(cfg, "a", task, perm, nil, nil, now, 0.5); o.State != frontier.StateFailed {
		t.Errorf("a remembered permanent failure: %s, want failed", o.State)
	}
}
