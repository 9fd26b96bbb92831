package master

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/internal/mtls"
	"github.com/crawlmaster/crawlmaster/internal/pgtest"
	"github.com/crawlmaster/crawlmaster/internal/portmux"
	"github.com/crawlmaster/crawlmaster/internal/testwait"
	"github.com/crawlmaster/crawlmaster/master/export"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// pollCount counts what a stream's polls returned.
type pollCount struct {
	mu          sync.Mutex
	sent, empty int
}

func (p *pollCount) polled(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent += n
	if n == 0 {
		p.empty++
	}
}

func (p *pollCount) get() (sent, empty int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent, p.empty
}

func (p *pollCount) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent, p.empty = 0, 0
}

// streamEnv is the API of a master that leads (as the test says) on a
// real database, served with real mutual TLS on loopback, without the
// dispatcher: the test writes the results itself.
type streamEnv struct {
	st    *store.Store
	me    *self
	a     *api
	polls *pollCount
	c     pb.CrawlManagerClient
	addr  string
}

func newStreamEnv(t *testing.T) *streamEnv {
	t.Helper()
	pool, _ := pgtest.NewPool(t)
	if _, err := store.Migrate(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	const masterName = "crawlmaster-master"
	set := mtls.FileSet{Dir: t.TempDir()}
	if _, err := mtls.Issue(set, mtls.IssueOptions{MasterName: masterName, Validity: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := mtls.IssueClient(set, mtls.ClientOptions{Name: "reader", Validity: time.Hour}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(tLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r, err := mtls.NewReloader(set.Master(), log, nil)
	if err != nil {
		t.Fatal(err)
	}
	me := &self{id: "stream-test-master", started: time.Now()}
	me.pool.Store(pool)
	me.lead.set(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := portmux.New(ln, portmux.Options{})
	polls := &pollCount{}
	// A page with bodies holds two records (32 MiB / 16 MiB), so three
	// records take a full page and then a short one.
	a := &api{me: me, guard: netguard.New(nil), log: log, m: newAPIMetrics(nil), poll: 20 * time.Millisecond,
		bodyCap: 16 << 20, after: time.After, polled: polls.polled}
	srv := startAPI(mux.TLS(), a, mtls.APIServerCredentials(r, log, nil), log)
	t.Cleanup(func() {
		srv.Stop(5 * time.Second)
		mux.Close()
	})
	tc, err := mtls.APIClientConfig(set.Client("reader"), masterName)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &streamEnv{st: store.New(pool), me: me, a: a, polls: polls, c: pb.NewCrawlManagerClient(conn), addr: ln.Addr().String()}
}

type tLog struct{ t *testing.T }

func (w tLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// persistOutcomes adds one URL per state to crawl, leases them and stores
// an outcome each, as the writer would; it returns the outcomes.
func (e *streamEnv) persistOutcomes(t *testing.T, crawl frontier.Crawl, prefix string, states ...frontier.State) []frontier.Outcome {
	t.Helper()
	urls := make([]string, len(states))
	for i := range states {
		urls[i] = "https://" + prefix + string(rune('a'+i)) + ".example/page"
	}
	subs, err := Submit(t.Context(), e.st, crawl, urls, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if s.Verdict != SeedAccepted {
			t.Fatalf("seed %+v not accepted", s)
		}
	}
	shards := make([]int16, frontier.NumShards)
	for i := range shards {
		shards[i] = int16(i)
	}
	tasks, err := e.st.Claim(t.Context(), frontier.Claim{Shards: shards, Limit: len(states), Lease: time.Minute, Assistant: "a1"})
	if err != nil || len(tasks) != len(states) {
		t.Fatalf("claimed %d of %d: %v", len(tasks), len(states), err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	outs := make([]frontier.Outcome, len(tasks))
	for i, tk := range tasks {
		o := frontier.Outcome{URLID: tk.URLID, Token: tk.Token, State: states[i], URL: tk.URL, FinalURL: tk.URL,
			HTTPStatus: 200, ContentType: "text/html", FetchDuration: 1500 * time.Millisecond, Title: "t " + tk.URL,
			Class: errclass.OK, Robots: "allowed", Redirects: 1, Attempts: 1, Assistant: "a1", FetchedAt: at.Add(time.Duration(i) * time.Second),
			CrawlID: crawl.ID}
		switch states[i] {
		case frontier.StateDone:
			o.Body = []byte("<html><title>body of " + tk.URL + "</title></html>")
			sum := sha256.Sum256(o.Body)
			o.BodySize, o.ContentHash = int64(len(o.Body)), sum[:]
		case frontier.StateFailed:
			o.HTTPStatus, o.Class, o.Error = 404, errclass.HTTP4xx, "404 Not Found"
		case frontier.StateDead:
			o.HTTPStatus, o.Class, o.Error = 0, errclass.Timeout, "i/o timeout"
		}
		outs[i] = o
	}
	w, err := e.st.Persist(t.Context(), outs)
	if err != nil || w.Accepted.Total() != int64(len(outs)) {
		t.Fatalf("Persist: %v, %v", w.Accepted, err)
	}
	return outs
}

// recvN receives n results from s.
func recvN(t *testing.T, s grpc.ServerStreamingClient[pb.Result], n int) []*pb.Result {
	t.Helper()
	out := make([]*pb.Result, 0, n)
	for range n {
		r, err := s.Recv()
		if err != nil {
			t.Fatalf("after %d of %d results: %v", len(out), n, err)
		}
		out = append(out, r)
	}
	return out
}

// checkResult compares a streamed result with the outcome stored.
func checkResult(t *testing.T, got *pb.Result, o frontier.Outcome, bodies bool) {
	t.Helper()
	state := map[frontier.State]pb.ResultState{frontier.StateDone: pb.ResultState_RESULT_STATE_DONE,
		frontier.StateFailed: pb.ResultState_RESULT_STATE_FAILED, frontier.StateDead: pb.ResultState_RESULT_STATE_DEAD}[o.State]
	class := map[errclass.Class]pb.ErrorClass{errclass.OK: pb.ErrorClass_ERROR_CLASS_OK, errclass.HTTP4xx: pb.ErrorClass_ERROR_CLASS_HTTP_4XX,
		errclass.Timeout: pb.ErrorClass_ERROR_CLASS_TIMEOUT}[o.Class]
	if got.GetLeaseToken() != o.Token || got.GetUrl() != o.URL || got.GetState() != state || got.GetErrorClass() != class ||
		got.GetErrorMessage() != o.Error || got.GetHttpStatus() != o.HTTPStatus || got.GetTitle() != o.Title ||
		!got.GetFetchedAt().AsTime().Equal(o.FetchedAt) || got.GetFetchDuration().AsDuration() != o.FetchDuration ||
		got.GetRedirects() != uint32(o.Redirects) || got.GetPersistedAt() == nil || got.GetCursor() == "" {
		t.Errorf("result %v\nwant the outcome %+v", got, o)
	}
	if wantBody := bodies && o.State == frontier.StateDone; wantBody != (len(got.GetBody()) > 0) ||
		wantBody && string(got.GetBody()) != string(o.Body) {
		t.Errorf("result %d: body %q, want %q (bodies asked: %v)", o.Token, got.GetBody(), o.Body, bodies)
	}
}

// StreamResults sends the stored results in cursor order, page after
// page, then follows new ones; a client resuming after the last cursor
// it received gets exactly the results after it; a crawl filters them;
// the stream ends with the not-leader answer when the master stops
// leading. (Needs store.ResultsAfter.)
func TestStreamResults(t *testing.T) {
	e := newStreamEnv(t)
	def := frontier.Crawl{ID: frontier.DefaultCrawlID, Name: defaultCrawlName}
	first := e.persistOutcomes(t, def, "one", frontier.StateDone, frontier.StateFailed, frontier.StateDead)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	s, err := e.c.StreamResults(ctx, &pb.StreamResultsRequest{IncludeBodies: true})
	if err != nil {
		t.Fatal(err)
	}
	got := recvN(t, s, 3)
	byToken := map[int64]frontier.Outcome{}
	for _, o := range first {
		byToken[o.Token] = o
	}
	for i, r := range got {
		checkResult(t, r, byToken[r.GetLeaseToken()], true)
		if i > 0 && !cursorAfter(t, r.GetCursor(), got[i-1].GetCursor()) {
			t.Errorf("cursor %s after %s: not in order", r.GetCursor(), got[i-1].GetCursor())
		}
	}
	// Following: results written while the stream is open arrive on it.
	second := e.persistOutcomes(t, def, "two", frontier.StateDone, frontier.StateDone)
	more := recvN(t, s, 2)
	for _, r := range more {
		if r.GetLeaseToken() != second[0].Token && r.GetLeaseToken() != second[1].Token {
			t.Errorf("followed result %d is none of the new ones", r.GetLeaseToken())
		}
	}
	cancel()
	testwait.Until(t, "the first stream ends on the server", 10*time.Second, 5*time.Millisecond, func() bool {
		return testutil.ToFloat64(e.a.m.streams) == 0
	})

	// Resuming after the third cursor gets the fourth and fifth, nothing
	// else, and nothing twice.
	e.polls.reset()
	ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err = e.c.StreamResults(ctx, &pb.StreamResultsRequest{Cursor: got[2].GetCursor()})
	if err != nil {
		t.Fatal(err)
	}
	resumed := recvN(t, s, 2)
	for i, r := range resumed {
		if r.GetLeaseToken() != more[i].GetLeaseToken() || r.GetCursor() != more[i].GetCursor() {
			t.Errorf("resumed result %d: token %d cursor %s, want %d %s", i, r.GetLeaseToken(), r.GetCursor(), more[i].GetLeaseToken(), more[i].GetCursor())
		}
		if len(r.GetBody()) != 0 {
			t.Errorf("resumed result %d has a body; bodies were not asked for", i)
		}
	}
	testwait.Until(t, "an empty poll after the resumed results", 10*time.Second, 5*time.Millisecond, func() bool {
		_, empty := e.polls.get()
		return empty > 0
	})
	if sent, _ := e.polls.get(); sent != 2 {
		t.Errorf("the resumed stream was sent %d results, want 2", sent)
	}

	// The stream ends with UNAVAILABLE when this master stops leading and
	// none leads; a master that does not lead refuses new streams.
	e.me.lead.set(false)
	_, err = s.Recv()
	if status.Code(err) != codes.Unavailable || notLeaderOf(err) == nil {
		t.Errorf("the open stream after the term ended: %v, want UNAVAILABLE with NotLeader", err)
	}
	if err := e.st.WriteStatus(t.Context(), store.MasterStatus{MasterID: "next-leader", StartedAt: time.Now(), APIAddr: "10.0.0.9:50051"}); err != nil {
		t.Fatal(err)
	}
	s2, err := e.c.StreamResults(t.Context(), &pb.StreamResultsRequest{})
	if err == nil {
		_, err = s2.Recv()
	}
	if nl := notLeaderOf(err); status.Code(err) != codes.FailedPrecondition || nl.GetLeaderId() != "next-leader" || nl.GetLeaderAddr() != "10.0.0.9:50051" {
		t.Errorf("a new stream on a master that does not lead: %v (%v), want FAILED_PRECONDITION naming next-leader", err, nl)
	}
}

// cursorAfter parses two cursors and reports whether a comes after b.
func cursorAfter(t *testing.T, a, b string) bool {
	t.Helper()
	ca, err := export.ParseCursor(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := export.ParseCursor(b)
	if err != nil {
		t.Fatal(err)
	}
	return ca.After(cb)
}

func notLeaderOf(err error) *pb.NotLeader {
	for _, d := range status.Convert(err).Details() {
		if nl, ok := d.(*pb.NotLeader); ok {
			return nl
		}
	}
	return nil
}

// A stream of one crawl gets only its results; a crawl that does not
// exist is NOT_FOUND, a malformed cursor INVALID_ARGUMENT. (Needs
// store.ResultsAfter.)
func TestStreamResultsOfACrawl(t *testing.T) {
	e := newStreamEnv(t)
	def := frontier.Crawl{ID: frontier.DefaultCrawlID, Name: defaultCrawlName}
	e.persistOutcomes(t, def, "d", frontier.StateDone)
	other, err := e.st.CreateCrawl(t.Context(), frontier.NewCrawl("other"))
	if err != nil {
		t.Fatal(err)
	}
	want := e.persistOutcomes(t, other, "o", frontier.StateFailed)
	s, err := e.c.StreamResults(t.Context(), &pb.StreamResultsRequest{Crawl: "other"})
	if err != nil {
		t.Fatal(err)
	}
	r := recvN(t, s, 1)[0]
	if r.GetLeaseToken() != want[0].Token || r.GetCrawl() != "other" {
		t.Errorf("crawl other's stream: %v, want its result %d", r, want[0].Token)
	}
	for _, tc := range []struct {
		req  *pb.StreamResultsRequest
		code codes.Code
	}{
		{&pb.StreamResultsRequest{Crawl: "nope"}, codes.NotFound},
		{&pb.StreamResultsRequest{Cursor: "x.y"}, codes.InvalidArgument},
	} {
		s, err := e.c.StreamResults(t.Context(), tc.req)
		if err == nil {
			_, err = s.Recv()
		}
		if status.Code(err) != tc.code {
			t.Errorf("%v: %v, want %s", tc.req, err, tc.code)
		}
	}
}

// seedURL tells the reasons of a refused URL apart as the API reports
// them.
func TestSeedURL(t *testing.T) {
	t.Parallel()
	guard := netguard.New(nil)
	for _, tc := range []struct {
		raw  string
		want SeedVerdict
	}{
		{"https://example.com/", SeedAccepted},
		{"  HTTP://Example.COM/a/./b  ", SeedAccepted},
		{"example.com/no-scheme", SeedInvalid},
		{"https://", SeedInvalid},
		{"https://example.com:99999/", SeedInvalid},
		{"https://u:p@example.com/", SeedInvalid},
		{"ftp://example.com/", SeedUnsupportedScheme},
		{"javascript:alert(1)", SeedUnsupportedScheme},
		{"https://example.com/" + strings.Repeat("a", 8200), SeedTooLong},
		// 4,000 bytes as given, 12,000 once percent-encoded.
		{"https://example.com/" + strings.Repeat("\u00e9", 2000), SeedTooLong},
		{"http://10.1.2.3/", SeedBlockedAddress},
		{"http://[::1]:8080/", SeedBlockedAddress},
	} {
		_, got, err := seedURL(tc.raw, 0, guard)
		if got != tc.want || (got == SeedAccepted) != (err == nil) {
			t.Errorf("seedURL(%.40q) = %v, %v; want %v", tc.raw, got, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), ":p@") {
			t.Errorf("seedURL(%q): the error shows the password: %v", tc.raw, err)
		}
	}
}

// The API's metrics pass Prometheus's lint, and the OK series of every
// CrawlManager method exists before the first call.
func TestAPIMetricsLint(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	newAPIMetrics(reg)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	if n := testutil.CollectAndCount(reg, "crawlmaster_api_requests_total"); n != 8 {
		t.Errorf("%d series of crawlmaster_api_requests_total before any call, want 8 (one per method)", n)
	}
}
