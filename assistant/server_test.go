package assistant_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/crawlmaster/crawlmaster/assistant"
	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/internal/wire"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// gate is a fetcher whose fetches block until released, so tests control
// exactly when each URL finishes.
type gate struct {
	mu      sync.Mutex
	release map[string]chan struct{}
	started chan string
	ctxErr  chan error
}

func newGate() *gate {
	return &gate{release: map[string]chan struct{}{}, started: make(chan string, 100), ctxErr: make(chan error, 100)}
}

func (g *gate) ch(url string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.release[url]
	if !ok {
		c = make(chan struct{})
		g.release[url] = c
	}
	return c
}

func (g *gate) open(url string) { close(g.ch(url)) }

func (g *gate) Fetch(ctx context.Context, req crawl.Request) *crawl.Result {
	url := req.URL
	g.started <- url
	select {
	case <-g.ch(url):
		return &crawl.Result{URL: url, FinalURL: url, Status: 200, Class: errclass.OK, Title: "t " + url,
			Body: []byte("0123456789"), BodySize: 10, Robots: crawl.RobotsAllowed, FetchedAt: time.Now()}
	case <-ctx.Done():
		g.ctxErr <- ctx.Err()
		return &crawl.Result{URL: url, Class: errclass.Canceled, Err: ctx.Err().Error(), FetchedAt: time.Now()}
	}
}

// recvAll receives a Crawl stream's messages up to its clean end.
func recvAll(t *testing.T, s grpc.ServerStreamingClient[pb.CrawlResult]) []*pb.CrawlResult {
	t.Helper()
	var got []*pb.CrawlResult
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
}

// testMaxTasks is the assistants' dispatch.batch_size in these tests.
const testMaxTasks = 8

type env struct {
	srv    *assistant.Server
	client pb.AssistantClient
	health healthpb.HealthClient
}

func newEnv(t *testing.T, slots int, f crawl.Fetcher) *env {
	t.Helper()
	return newEnvMetrics(t, slots, f, nil)
}

// newEnvMetrics is newEnv with the assistant's metrics (nil: unregistered).
func newEnvMetrics(t *testing.T, slots int, f crawl.Fetcher, m *assistant.Metrics) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := assistant.NewServer("test:1", slots, f, assistant.Limits{BodyCap: 1 << 20, MaxTasks: testMaxTasks}, log, m)
	// The batch logic under test does not depend on the transport; mutual
	// TLS has its own tests (internal/mtls) and runs in the end-to-end ones.
	gs := assistant.NewGRPCServer(srv, insecure.NewCredentials(), log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &env{srv: srv, client: pb.NewAssistantClient(conn), health: healthpb.NewHealthClient(conn)}
}

func batch(id string, slot uint32, urls ...string) *pb.CrawlRequest {
	req := &pb.CrawlRequest{BatchId: id, Slot: slot, SendBodyCap: 4}
	for i, u := range urls {
		req.Tasks = append(req.Tasks, &pb.CrawlTask{UrlId: int64(i + 1), LeaseToken: int64(100 + i), Url: u})
	}
	return req
}

func (e *env) idle(t *testing.T) *pb.ReportIdleWorkerResponse {
	t.Helper()
	r, err := e.client.ReportIdleWorker(context.Background(), &pb.ReportIdleWorkerRequest{MasterId: "m"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitIdle waits until slot is reported idle.
func (e *env) waitIdle(t *testing.T, slot uint32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range e.idle(t).GetIdleSlots() {
			if s == slot {
				return
			}
		}
		<-time.After(5 * time.Millisecond)
	}
	t.Fatalf("slot %d not idle within 5s", slot)
}

func TestReportIdleWorker(t *testing.T) {
	e := newEnv(t, 4, newGate())
	r := e.idle(t)
	if r.GetAssistantId() != "test:1" || r.GetTotalSlots() != 4 || len(r.GetIdleSlots()) != 4 || r.GetDraining() {
		t.Fatalf("got %v; want 4 idle slots of test:1, not draining", r)
	}
}

func TestCrawlRejectsBadRequests(t *testing.T) {
	g := newGate()
	e := newEnv(t, 2, g)
	cases := []struct {
		req    *pb.CrawlRequest
		code   codes.Code
		reason pb.RefusalReason
	}{
		{batch("b1", 7, "http://a.test/"), codes.NotFound, pb.RefusalReason_REFUSAL_REASON_NO_SUCH_SLOT},
		{batch("b2", 0), codes.InvalidArgument, pb.RefusalReason_REFUSAL_REASON_BAD_BATCH},
		{batch("", 0, "http://a.test/"), codes.InvalidArgument, pb.RefusalReason_REFUSAL_REASON_BAD_BATCH},
		{batch("b3", 0, ""), codes.InvalidArgument, pb.RefusalReason_REFUSAL_REASON_BAD_BATCH},
		// More tasks than dispatch.batch_size.
		{batch("b4", 0, slices.Repeat([]string{"http://a.test/"}, testMaxTasks+1)...), codes.InvalidArgument, pb.RefusalReason_REFUSAL_REASON_BAD_BATCH},
	}
	for _, c := range cases {
		s, err := e.client.Crawl(context.Background(), c.req)
		if err == nil {
			_, err = s.Recv()
		}
		reason, refused := wire.RefusalOf(err)
		if status.Code(err) != c.code || !refused || reason != c.reason {
			t.Errorf("Crawl(%v): got %v (refusal %s, %v), want code %v, reason %s", c.req, err, reason, refused, c.code, c.reason)
		}
	}
	// A request beyond the message bound (tasks of 400 KB URLs) is cut
	// off by gRPC before it is read whole.
	huge := "http://a.test/" + strings.Repeat("x", 400<<10)
	hctx, hcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer hcancel()
	s, err := e.client.Crawl(hctx, batch("b5", 0, slices.Repeat([]string{huge}, testMaxTasks)...))
	if err == nil {
		_, err = s.Recv()
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("an oversized request: %v, want ResourceExhausted", err)
	}
	// A busy slot is refused, another slot is not.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s1, err := e.client.Crawl(ctx, batch("busy", 1, "http://a.test/"))
	if err != nil {
		t.Fatal(err)
	}
	<-g.started
	s2, err := e.client.Crawl(context.Background(), batch("second", 1, "http://b.test/"))
	if err == nil {
		_, err = s2.Recv()
	}
	if reason, _ := wire.RefusalOf(err); status.Code(err) != codes.FailedPrecondition || reason != pb.RefusalReason_REFUSAL_REASON_SLOT_BUSY {
		t.Fatalf("second batch on a busy slot: got %v (%s), want FailedPrecondition, SLOT_BUSY", err, reason)
	}
	r := e.idle(t)
	if len(r.GetIdleSlots()) != 1 || r.GetIdleSlots()[0] != 0 || len(r.GetBusy()) != 1 || r.GetBusy()[0].GetBatchId() != "busy" {
		t.Fatalf("report while slot 1 busy: %v", r)
	}
	g.open("http://a.test/")
	if _, err := s1.Recv(); err != nil {
		t.Fatal(err)
	}
}

// Results stream one per URL as each finishes, not at the end of the batch.
func TestCrawlStreamsEachResult(t *testing.T) {
	g := newGate()
	e := newEnv(t, 1, g)
	urls := []string{"http://a.test/", "http://b.test/", "http://c.test/"}
	s, err := e.client.Crawl(context.Background(), batch("b", 0, urls...))
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range urls {
		if got := <-g.started; got != u {
			t.Fatalf("fetch %d: %s, want %s (in order)", i, got, u)
		}
		g.open(u)
		r, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		// Result i arrives while URL i+1 is still blocked in its fetch.
		if r.GetUrl() != u || r.GetLeaseToken() != int64(100+i) || r.GetErrorClass() != pb.ErrorClass_ERROR_CLASS_OK || r.GetDisposition() != pb.Disposition_DISPOSITION_FETCHED || r.GetTitle() != "t "+u ||
			string(r.GetBody()) != "0123" || r.GetRobots() != pb.RobotsDecision_ROBOTS_DECISION_ALLOWED {
			t.Fatalf("result %d: %v", i, r)
		}
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("after the last result: %v, want EOF", err)
	}
}

// Cancelling the call cancels the in-flight fetch and frees the slot.
func TestCrawlCancelCancelsFetch(t *testing.T) {
	g := newGate()
	e := newEnv(t, 1, g)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := e.client.Crawl(ctx, batch("b", 0, "http://a.test/", "http://b.test/"))
	if err != nil {
		t.Fatal(err)
	}
	<-g.started
	cancel()
	if err := <-g.ctxErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("fetch context: %v, want canceled", err)
	}
	if _, err := s.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("Recv after cancel: %v", err)
	}
	e.waitIdle(t, 0)
	select {
	case u := <-g.started:
		t.Fatalf("fetched %s after the batch was cancelled", u)
	default:
	}
}

// The slot is free the moment the stream ends: a master that refills at
// once is never refused.
func TestSlotFreeWhenStreamEnds(t *testing.T) {
	f := crawl.FetcherFunc(func(ctx context.Context, req crawl.Request) *crawl.Result {
		return &crawl.Result{URL: req.URL, Class: errclass.OK, Status: 200, FetchedAt: time.Now()}
	})
	e := newEnv(t, 1, f)
	for i := range 300 {
		s, err := e.client.Crawl(context.Background(), batch(fmt.Sprint(i), 0, "http://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err = s.Recv(); err != nil {
				break
			}
		}
		if err != io.EOF {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
}

// Drain: reports draining with no idle slots (and NOT_SERVING to health
// checks), refuses new batches, lets the running batch finish within the
// grace period.
func TestDrainLetsRunningBatchFinish(t *testing.T) {
	g := newGate()
	e := newEnv(t, 2, g)
	if h, err := e.health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: pb.Assistant_ServiceDesc.ServiceName}); err != nil ||
		h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before draining: %v, %v; want SERVING", h.GetStatus(), err)
	}
	if state, err := e.srv.Ready(); err != nil {
		t.Fatalf("Ready before draining: %q, %v", state, err)
	}
	s, err := e.client.Crawl(context.Background(), batch("b", 0, "http://a.test/"))
	if err != nil {
		t.Fatal(err)
	}
	<-g.started
	drained := make(chan struct{})
	go func() {
		e.srv.Drain(context.Background())
		close(drained)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for r := e.idle(t); !r.GetDraining(); r = e.idle(t) {
		if time.Now().After(deadline) {
			t.Fatal("not draining within 5s")
		}
		<-time.After(5 * time.Millisecond)
	}
	if r := e.idle(t); len(r.GetIdleSlots()) != 0 {
		t.Fatalf("draining assistant reports idle slots: %v", r)
	}
	// Health says so too, for the server and for the Assistant service,
	// and /readyz.
	for _, svc := range []string{"", pb.Assistant_ServiceDesc.ServiceName} {
		h, err := e.health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health of %q while draining: %v, %v; want NOT_SERVING", svc, h.GetStatus(), err)
		}
	}
	if _, err := e.srv.Ready(); err == nil {
		t.Error("Ready while draining: no error")
	}
	s2, err := e.client.Crawl(context.Background(), batch("late", 1, "http://b.test/"))
	if err == nil {
		_, err = s2.Recv()
	}
	if reason, _ := wire.RefusalOf(err); status.Code(err) != codes.Unavailable || reason != pb.RefusalReason_REFUSAL_REASON_DRAINING {
		t.Fatalf("batch while draining: %v (%s), want Unavailable, DRAINING", err, reason)
	}
	select {
	case <-drained:
		t.Fatal("Drain returned while a batch was running")
	default:
	}
	g.open("http://a.test/")
	if r, err := s.Recv(); err != nil || r.GetErrorClass() != pb.ErrorClass_ERROR_CLASS_OK {
		t.Fatalf("running batch result: %v, %v", r, err)
	}
	<-drained
}

// Drain past its grace period cancels running batches; their remaining
// URLs come back as cancelled so the master requeues them uncharged.
func TestDrainGraceCancels(t *testing.T) {
	g := newGate()
	e := newEnv(t, 1, g)
	s, err := e.client.Crawl(context.Background(), batch("b", 0, "http://a.test/", "http://b.test/"))
	if err != nil {
		t.Fatal(err)
	}
	<-g.started
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // grace already over
	e.srv.Drain(ctx)
	var dispositions []pb.Disposition
	for {
		r, err := s.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("stream end: %v, want Unavailable", err)
			}
			break
		}
		dispositions = append(dispositions, r.GetDisposition())
	}
	unfetched := pb.Disposition_DISPOSITION_UNFETCHED
	if !slices.Equal(dispositions, []pb.Disposition{unfetched, unfetched}) {
		t.Fatalf("results after grace: %v, want both unfetched", dispositions)
	}
}
