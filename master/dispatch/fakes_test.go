package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/crawlmaster/crawlmaster/master/admit"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// memEnv is an in-memory env for the feeder's loop tests: a frontier of
// pending tasks claimed in order, one leased URL per domain at a time,
// and a record of every release and submitted outcome.
type memEnv struct {
	mu       sync.Mutex
	pending  []frontier.Task
	leased   map[int64]frontier.Task // by token
	nextTok  int64
	released []releaseCall
	stored   []frontier.Outcome
	counted  map[string]int // attempts counted per URL, as on a frontier row
	live     map[string]bool
	flying   int
	batches  int
	sites    siteClock
	// loseReplies is how many of the next claims commit but lose their
	// reply (the claim fails, its leases stay); lost holds those leases.
	loseReplies int
	lost        []int64
	unheldCalls int
}

type releaseCall struct {
	urls   []string
	charge bool
	reason string
}

func newMemEnv(urls ...string) *memEnv {
	e := &memEnv{leased: map[int64]frontier.Task{}, live: map[string]bool{}, counted: map[string]int{}}
	for i, u := range urls {
		site := strings.TrimPrefix(u, "http://")
		site, _, _ = strings.Cut(site, "/")
		e.pending = append(e.pending, frontier.Task{URLID: int64(i + 1), URL: u, Domain: site, Shard: int16(i % frontier.NumShards)})
	}
	return e
}

func (e *memEnv) claim(_ context.Context, _ string, n int) ([]frontier.Task, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// Like the store's claim: sites with a URL leased are skipped, and one
	// claim may lease several URLs of a site that had none.
	inFlight := map[string]bool{}
	for _, t := range e.leased {
		inFlight[t.Domain] = true
	}
	var out []frontier.Task
	kept := e.pending[:0]
	for _, t := range e.pending {
		if len(out) == n || inFlight[t.Domain] {
			kept = append(kept, t)
			continue
		}
		e.nextTok++
		t.Token = e.nextTok
		t.Attempts = e.counted[t.URL] + 1
		e.leased[t.Token] = t
		out = append(out, t)
	}
	e.pending = kept
	if e.loseReplies > 0 {
		e.loseReplies--
		for _, t := range out {
			e.lost = append(e.lost, t.Token)
		}
		return nil, errors.New("claim: conn closed")
	}
	return out, nil
}

func (e *memEnv) release(tokens []int64, charge bool, reason string) {
	if len(tokens) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := releaseCall{charge: charge, reason: reason}
	for _, tok := range tokens {
		t, ok := e.leased[tok]
		if !ok {
			panic(fmt.Sprintf("release of token %d not leased", tok))
		}
		delete(e.leased, tok)
		if charge {
			e.counted[t.URL]++
		}
		e.pending = append(e.pending, t)
		c.urls = append(c.urls, t.URL)
	}
	e.released = append(e.released, c)
}

func (e *memEnv) submit(ctx context.Context, o frontier.Outcome) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.leased, o.Token)
	e.counted[o.URL] = int(o.Attempts)
	e.stored = append(e.stored, o)
	return nil
}

func (e *memEnv) owns(string, int16) bool { return true }
func (e *memEnv) setLive(owner string, live bool, _ int) {
	e.mu.Lock()
	e.live[owner] = live
	e.mu.Unlock()
}
func (e *memEnv) firstPollEnded(string) {}
func (e *memEnv) canClaim() bool        { return true }
func (e *memEnv) inflight(d int) {
	e.mu.Lock()
	e.flying += d
	e.mu.Unlock()
}
func (e *memEnv) policy(int32) *admit.Policy {
	p, err := admit.Compile(frontier.Crawl{ID: frontier.DefaultCrawlID, Name: "default", Scope: frontier.ScopeDomain,
		SiteBudget: 1, MaxURLLength: 2048, MaxPathSegments: 20, MaxRepeatedSegments: 2})
	if err != nil {
		panic(err)
	}
	return p
}

func (e *memEnv) refused(*admit.Refused) {}

// releaseUnheld returns the leases of lost claim replies to pending.
func (e *memEnv) releaseUnheld(context.Context, string) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.unheldCalls++
	for _, tok := range e.lost {
		e.pending = append(e.pending, e.leased[tok])
		delete(e.leased, tok)
	}
	n := len(e.lost)
	e.lost = nil
	return int64(n), nil
}

func (e *memEnv) noteSite(site string, t time.Time) { e.sites.note(site, t, time.Now()) }

func (e *memEnv) siteNotBefore(site string) time.Time { return e.sites.notBefore(site) }

func (e *memEnv) batchID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.batches++
	return fmt.Sprintf("b%d", e.batches)
}

// snapshot returns copies of what was released and stored so far.
func (e *memEnv) snapshot() (released []releaseCall, stored []frontier.Outcome, leased int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.released), slices.Clone(e.stored), len(e.leased)
}

// attempts returns the attempts counted for url.
func (e *memEnv) attempts(url string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counted[url]
}

// fakeAssistant is an AssistantClient whose answers the test scripts:
// polls return what poll says, and every Crawl call is handed to the test
// on calls, which then feeds its stream.
type fakeAssistant struct {
	mu    sync.Mutex
	poll  func() (*pb.ReportIdleWorkerResponse, error)
	calls chan *fakeCall
}

func (a *fakeAssistant) setPoll(f func() (*pb.ReportIdleWorkerResponse, error)) {
	a.mu.Lock()
	a.poll = f
	a.mu.Unlock()
}

func (a *fakeAssistant) ReportIdleWorker(ctx context.Context, _ *pb.ReportIdleWorkerRequest, _ ...grpc.CallOption) (*pb.ReportIdleWorkerResponse, error) {
	a.mu.Lock()
	f := a.poll
	a.mu.Unlock()
	return f()
}

func (a *fakeAssistant) Crawl(ctx context.Context, req *pb.CrawlRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[pb.CrawlResult], error) {
	c := &fakeCall{ctx: ctx, req: req, msgs: make(chan msg, 64)}
	a.calls <- c
	return c, nil
}

// idleReport answers a poll: n slots, all idle.
func idleReport(n int) func() (*pb.ReportIdleWorkerResponse, error) {
	return func() (*pb.ReportIdleWorkerResponse, error) {
		r := &pb.ReportIdleWorkerResponse{AssistantId: "a", TotalSlots: uint32(n)}
		for i := range n {
			r.IdleSlots = append(r.IdleSlots, uint32(i))
		}
		return r, nil
	}
}

type msg struct {
	r   *pb.CrawlResult
	err error
}

// fakeCall is one Crawl call: the test sends its messages and its end.
type fakeCall struct {
	grpc.ClientStream // not used by the feeder
	ctx               context.Context
	req               *pb.CrawlRequest
	msgs              chan msg
}

func (c *fakeCall) Recv() (*pb.CrawlResult, error) {
	select {
	case m := <-c.msgs:
		return m.r, m.err
	case <-c.ctx.Done():
		return nil, status.FromContextError(c.ctx.Err()).Err()
	}
}

func (c *fakeCall) Context() context.Context     { return c.ctx }
func (c *fakeCall) Header() (metadata.MD, error) { return nil, nil }
func (c *fakeCall) Trailer() metadata.MD         { return nil }

// started, fetched and unfetched send one message about task i.
func (c *fakeCall) started(i int) { c.msgs <- msg{r: c.result(i, pb.Disposition_DISPOSITION_STARTED)} }
func (c *fakeCall) fetched(i int, class pb.ErrorClass) {
	r := c.result(i, pb.Disposition_DISPOSITION_FETCHED)
	r.ErrorClass = class
	c.msgs <- msg{r: r}
}

// fetchedWaiting sends task i's result saying the assistant would wait
// after before its next request to the task's site.
func (c *fakeCall) fetchedWaiting(i int, after time.Duration) {
	r := c.result(i, pb.Disposition_DISPOSITION_FETCHED)
	r.ErrorClass, r.NextRequestAfter = pb.ErrorClass_ERROR_CLASS_OK, durationpb.New(after)
	c.msgs <- msg{r: r}
}

// deferred gives task i back DEFERRED: its host would have made the slot
// wait after.
func (c *fakeCall) deferred(i int, after time.Duration) {
	r := c.result(i, pb.Disposition_DISPOSITION_DEFERRED)
	r.ErrorClass, r.NextRequestAfter = pb.ErrorClass_ERROR_CLASS_CANCELED, durationpb.New(after)
	c.msgs <- msg{r: r}
}

func (c *fakeCall) unfetched(i int) {
	c.msgs <- msg{r: c.result(i, pb.Disposition_DISPOSITION_UNFETCHED)}
}

// end ends the stream with err (nil: completed).
func (c *fakeCall) end(err error) {
	if err == nil {
		err = io.EOF
	}
	c.msgs <- msg{err: err}
}

func (c *fakeCall) result(i int, d pb.Disposition) *pb.CrawlResult {
	t := c.req.GetTasks()[i]
	return &pb.CrawlResult{UrlId: t.GetUrlId(), LeaseToken: t.GetLeaseToken(), Url: t.GetUrl(), Disposition: d}
}

func (c *fakeCall) urls() []string {
	var out []string
	for _, t := range c.req.GetTasks() {
		out = append(out, t.GetUrl())
	}
	return out
}

// testLogger logs to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
