package master_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/mtls"
	"github.com/crawlmaster/crawlmaster/internal/pgtest"
	"github.com/crawlmaster/crawlmaster/internal/promtest"
	"github.com/crawlmaster/crawlmaster/internal/testwait"
	"github.com/crawlmaster/crawlmaster/master/store"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// apiEnv is a database, a config with certificates (an API client's
// among them) and the test's own store, for masters serving the API.
type apiEnv struct {
	cfg    *config.Config
	store  *store.Store
	client mtls.Files // the API client "tester"'s files
}

func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	cfg := config.Default()
	cfg.Database.URL = pgtest.NewDatabase(t)
	cfg.RPC.Manager.Port = unusedManagerPort
	// An assistant nobody listens on: the leader marks it down and hands
	// out nothing, which these tests do not need.
	ln, port := listen(t)
	ln.Close()
	cfg.RPC.Assistants = []config.Assistant{{Address: "127.0.0.1", Port: port, Workers: 1}}
	cfg.Dispatch.ProgressInterval = time.Second
	cfg.Dispatch.ShutdownGrace = time.Second
	cfg.TLS.Dir = t.TempDir()
	set := mtls.FileSet{Dir: cfg.TLS.Dir}
	if _, err := mtls.Issue(set, mtls.IssueOptions{MasterName: cfg.TLS.MasterName, Assistants: []string{cfg.RPC.Assistants[0].ID()}, Validity: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := mtls.IssueClient(set, mtls.ClientOptions{Name: "tester", Validity: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), cfg.Database.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := store.New(pool)
	if _, err := store.Migrate(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	return &apiEnv{cfg: cfg, store: st, client: set.Client("tester")}
}

// dialTLS connects to the API at addr with a TLS configuration.
func dialTLS(t *testing.T, addr string, c *tls.Config) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(c)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// dial connects to the API at addr as the API client "tester".
func (e *apiEnv) dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	c, err := mtls.APIClientConfig(e.client, e.cfg.TLS.MasterName)
	if err != nil {
		t.Fatal(err)
	}
	return dialTLS(t, addr, c)
}

// callCtx is a context for one call.
func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails t unless err is a status of code.
func wantCode(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Errorf("%s: %v, want %s", what, err, code)
	}
}

// rejection is the reason of a verdict, or UNSPECIFIED for an accepted URL.
func rejection(v *pb.URLVerdict) pb.URLRejectReason {
	if r := v.GetRejected(); r != nil {
		return r.GetReason()
	}
	return pb.URLRejectReason_URL_REJECT_REASON_UNSPECIFIED
}

// The leader's API creates, lists, pauses and resumes crawls, admits
// URLs with a typed verdict each, and reports the status, on the admin
// port, whose HTTP endpoint still answers; health says SERVING and
// reflection lists the service; each call is counted.
func TestAPILeader(t *testing.T) {
	e := newAPIEnv(t)
	m := runMasterConfig(t, e.cfg)
	m.wait(t, m.led, "leading", 30*time.Second)
	conn := e.dial(t, m.admin)
	c := pb.NewCrawlManagerClient(conn)

	// Health and reflection.
	h, err := healthpb.NewHealthClient(conn).Check(callCtx(t), &healthpb.HealthCheckRequest{Service: "crawlmaster.v1.CrawlManager"})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health of the leader: %v, %v; want SERVING", h, err)
	}
	if got := listServices(t, conn); !slices.Contains(got, "crawlmaster.v1.CrawlManager") || !slices.Contains(got, "grpc.health.v1.Health") {
		t.Errorf("reflection lists %v", got)
	}
	// The admin endpoint shares the port.
	if code, body := probe(t, m.admin, "/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz on the API's port: %d %q", code, body)
	}

	// Crawls.
	depth, budget := uint32(2), uint32(50)
	created, err := c.CreateCrawl(callCtx(t), &pb.CreateCrawlRequest{Name: "docs", Policy: &pb.CrawlPolicy{
		Scope: pb.CrawlScope_CRAWL_SCOPE_HOST, MaxDepth: &depth, SiteBudget: &budget, Deny: []string{`\.pdf$`},
		Revisit: pb.RevisitMode_REVISIT_MODE_ADAPTIVE, RevisitMin: durationpb.New(10 * time.Minute),
		Every: durationpb.New(time.Hour), Overlap: pb.ScheduleOverlap_SCHEDULE_OVERLAP_MERGE, Retention: durationpb.New(48 * time.Hour)}})
	if err != nil {
		t.Fatalf("CreateCrawl: %v", err)
	}
	p := created.GetCrawl().GetPolicy()
	if created.GetCrawl().GetName() != "docs" || p.GetScope() != pb.CrawlScope_CRAWL_SCOPE_HOST || p.GetMaxDepth() != 2 ||
		p.GetSiteBudget() != 50 || p.GetMaxLinks() != 1000 || p.GetMaxUrlLength() != 2048 || !slices.Equal(p.GetDeny(), []string{`\.pdf$`}) ||
		p.GetRevisit() != pb.RevisitMode_REVISIT_MODE_ADAPTIVE || p.GetRevisitMin().AsDuration() != 10*time.Minute ||
		p.GetRevisitDone().AsDuration() != 24*time.Hour || p.GetEvery().AsDuration() != time.Hour ||
		p.GetOverlap() != pb.ScheduleOverlap_SCHEDULE_OVERLAP_MERGE || p.GetRetention().AsDuration() != 48*time.Hour {
		t.Errorf("created %v; want the policy given over the defaults of `master crawl create`", created.GetCrawl())
	}
	_, err = c.CreateCrawl(callCtx(t), &pb.CreateCrawlRequest{Name: "docs"})
	wantCode(t, "a second crawl docs", err, codes.AlreadyExists)
	tooDeep := uint32(5000)
	_, err = c.CreateCrawl(callCtx(t), &pb.CreateCrawlRequest{Name: "Bad Name", Policy: &pb.CrawlPolicy{MaxDepth: &tooDeep, Allow: []string{"("},
		Every: durationpb.New(time.Millisecond), Revisit: pb.RevisitMode(42)}})
	wantCode(t, "a bad policy", err, codes.InvalidArgument)
	for _, field := range []string{"--name", "--max-depth", "--allow", "--every", "policy.revisit"} {
		if !strings.Contains(status.Convert(err).Message(), field) {
			t.Errorf("bad policy: %q does not name %s", status.Convert(err).Message(), field)
		}
	}
	list, err := c.ListCrawls(callCtx(t), &pb.ListCrawlsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ci := range list.GetCrawls() {
		names = append(names, ci.GetName())
	}
	if !slices.Equal(names, []string{"default", "docs"}) {
		t.Errorf("ListCrawls: %v, want default and docs", names)
	}
	paused, err := c.PauseCrawl(callCtx(t), &pb.PauseCrawlRequest{Name: "docs"})
	if err != nil || !paused.GetCrawl().GetPaused() {
		t.Errorf("PauseCrawl: %v, %v", paused, err)
	}
	if got, err := c.GetCrawl(callCtx(t), &pb.GetCrawlRequest{Name: "docs"}); err != nil || !got.GetCrawl().GetPaused() {
		t.Errorf("GetCrawl after the pause: %v, %v", got, err)
	}
	resumed, err := c.ResumeCrawl(callCtx(t), &pb.ResumeCrawlRequest{Name: "docs"})
	if err != nil || resumed.GetCrawl().GetPaused() {
		t.Errorf("ResumeCrawl: %v, %v", resumed, err)
	}
	_, err = c.GetCrawl(callCtx(t), &pb.GetCrawlRequest{Name: "nope"})
	wantCode(t, "GetCrawl of no crawl", err, codes.NotFound)
	_, err = c.PauseCrawl(callCtx(t), &pb.PauseCrawlRequest{Name: "nope"})
	wantCode(t, "PauseCrawl of no crawl", err, codes.NotFound)

	// URLs.
	const (
		accepted = pb.URLRejectReason_URL_REJECT_REASON_UNSPECIFIED
		invalid  = pb.URLRejectReason_URL_REJECT_REASON_INVALID
		scheme   = pb.URLRejectReason_URL_REJECT_REASON_UNSUPPORTED_SCHEME
		tooLong  = pb.URLRejectReason_URL_REJECT_REASON_TOO_LONG
		blocked  = pb.URLRejectReason_URL_REJECT_REASON_BLOCKED_ADDRESS
		dup      = pb.URLRejectReason_URL_REJECT_REASON_DUPLICATE
		known    = pb.URLRejectReason_URL_REJECT_REASON_ALREADY_KNOWN
	)
	cases := []struct {
		url    string
		reason pb.URLRejectReason
		norm   string
	}{
		{"https://Example.com:443/a/../b?y=2&x=1#frag", accepted, "https://example.com/b?x=1&y=2"},
		{"http://docs.example.org/", accepted, "http://docs.example.org/"},
		{"https://example.com/b?x=1&y=2", dup, "https://example.com/b?x=1&y=2"},
		{"not a url", invalid, ""},
		{"https://user:secret@example.com/", invalid, ""},
		{"ftp://example.com/file", scheme, ""},
		{"mailto:someone@example.com", scheme, ""},
		{"https://example.com/" + strings.Repeat("x", 9000), tooLong, ""},
		{"http://127.0.0.1:8080/admin", blocked, "http://127.0.0.1:8080/admin"},
		{"http://localhost/", blocked, "http://localhost/"},
	}
	var urls []string
	for _, tc := range cases {
		urls = append(urls, tc.url)
	}
	resp, err := c.SubmitURLs(callCtx(t), &pb.SubmitURLsRequest{Crawl: "docs", Urls: urls})
	if err != nil {
		t.Fatalf("SubmitURLs: %v", err)
	}
	if len(resp.GetVerdicts()) != len(cases) || resp.GetAccepted() != 2 || resp.GetRejected() != uint32(len(cases)-2) {
		t.Fatalf("SubmitURLs: %d verdicts, %d accepted, %d rejected; want %d, 2, %d", len(resp.GetVerdicts()), resp.GetAccepted(), resp.GetRejected(), len(cases), len(cases)-2)
	}
	for i, tc := range cases {
		v := resp.GetVerdicts()[i]
		if rejection(v) != tc.reason || (tc.reason == accepted) != (v.GetAccepted() != nil) || v.GetNormalizedUrl() != tc.norm {
			t.Errorf("%.60q: verdict %v, want reason %v, normalised %q", tc.url, v, tc.reason, tc.norm)
		}
		if tc.reason != accepted && v.GetRejected().GetMessage() == "" {
			t.Errorf("%.60q: rejected without a message", tc.url)
		}
		if strings.Contains(v.GetRejected().GetMessage(), "secret") {
			t.Errorf("%.60q: the message shows the password: %q", tc.url, v.GetRejected().GetMessage())
		}
	}
	again, err := c.SubmitURLs(callCtx(t), &pb.SubmitURLsRequest{Crawl: "docs", Urls: []string{"https://example.com/b?y=2&x=1", "https://example.com/new"}})
	if err != nil {
		t.Fatal(err)
	}
	if v := again.GetVerdicts(); len(v) != 2 || rejection(v[0]) != known || v[1].GetAccepted() == nil {
		t.Errorf("second SubmitURLs: %v; want already known, then accepted", v)
	}
	if def, err := c.SubmitURLs(callCtx(t), &pb.SubmitURLsRequest{Urls: []string{"https://example.com/b?x=1&y=2"}, Priority: 3}); err != nil ||
		def.GetVerdicts()[0].GetAccepted() == nil {
		t.Errorf("SubmitURLs to the default crawl: %v, %v; want accepted (another crawl's URL)", def, err)
	}
	_, err = c.SubmitURLs(callCtx(t), &pb.SubmitURLsRequest{Crawl: "nope", Urls: []string{"https://example.com/"}})
	wantCode(t, "SubmitURLs to no crawl", err, codes.NotFound)
	_, err = c.SubmitURLs(callCtx(t), &pb.SubmitURLsRequest{Urls: make([]string, 10001)})
	wantCode(t, "10001 URLs", err, codes.InvalidArgument)
	docs, err := c.GetCrawl(callCtx(t), &pb.GetCrawlRequest{Name: "docs"})
	if err != nil {
		t.Fatal(err)
	}
	if pr := docs.GetCrawl().GetProgress(); pr.GetSeeds() != 3 || pr.GetUrls().GetPending()+pr.GetUrls().GetLeased() != 3 {
		t.Errorf("docs' progress %v; want 3 seeds, pending or leased", pr)
	}

	// Status.
	stat, err := c.GetStatus(callCtx(t), &pb.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	u := stat.GetUrls()
	if total := u.GetPending() + u.GetLeased() + u.GetDone() + u.GetFailed() + u.GetDead(); total != 4 || stat.GetAllFinal() {
		t.Errorf("status: URLs %v, all final %v; want 4, not final", u, stat.GetAllFinal())
	}
	id, _ := m.id.Load().(string)
	if ms := stat.GetMasters(); len(ms) != 1 || ms[0].GetId() != id || ms[0].GetRole() != pb.MasterRole_MASTER_ROLE_LEADER ||
		ms[0].GetApiAddr() != m.admin || !ms[0].GetRunning() {
		t.Errorf("status masters %v; want the leader %s at %s", ms, id, m.admin)
	}
	if len(stat.GetCrawls()) != 2 || stat.GetReadAt() == nil {
		t.Errorf("status crawls %d, read_at %v", len(stat.GetCrawls()), stat.GetReadAt())
	}
	if l := stat.GetLeader(); l.GetMasterId() != id || len(l.GetAssistants()) != 1 {
		t.Errorf("status leader view %v; want %s's with its one assistant", l, id)
	}

	// Metrics: calls by method and code.
	for _, tc := range []struct {
		method, code string
		min          float64
	}{
		{"CreateCrawl", "OK", 1}, {"CreateCrawl", "AlreadyExists", 1}, {"CreateCrawl", "InvalidArgument", 1},
		{"SubmitURLs", "OK", 3}, {"GetStatus", "OK", 1},
	} {
		labels := map[string]string{"method": "/crawlmaster.v1.CrawlManager/" + tc.method, "code": tc.code}
		if v := promtest.Value(t, m.registry, "crawlmaster_api_requests_total", labels); v < tc.min {
			t.Errorf("crawlmaster_api_requests_total%v = %v, want >= %v", labels, v, tc.min)
		}
	}
}

// listServices asks the reflection service for the services served.
func listServices(t *testing.T, conn *grpc.ClientConn) []string {
	t.Helper()
	s, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(callCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	_ = s.CloseSend()
	var out []string
	for _, sv := range r.GetListServicesResponse().GetService() {
		out = append(out, sv.GetName())
	}
	return out
}

// The API takes only API clients of the deployment's CA: another CA's
// API client, the master's own certificate and no certificate are refused
// in the handshake, and counted.
func TestAPIRefusesOtherCertificates(t *testing.T) {
	e := newAPIEnv(t)
	m := runMasterConfig(t, e.cfg)
	m.wait(t, m.led, "leading", 30*time.Second)
	if _, err := pb.NewCrawlManagerClient(e.dial(t, m.admin)).ListCrawls(callCtx(t), &pb.ListCrawlsRequest{}); err != nil {
		t.Fatalf("the API client's call: %v", err)
	}

	other := mtls.FileSet{Dir: filepath.Join(t.TempDir(), "other")}
	if _, err := mtls.Issue(other, mtls.IssueOptions{MasterName: e.cfg.TLS.MasterName, Validity: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := mtls.IssueClient(other, mtls.ClientOptions{Name: "tester", Validity: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// Each trusts the real CA (so the client does not give up first) and
	// offers a certificate the master must refuse, whatever CAs the master
	// says it accepts (crypto/tls would send none of another CA's).
	trusting := func(offer *mtls.Files) *tls.Config {
		c, err := mtls.APIClientConfig(e.client, e.cfg.TLS.MasterName)
		if err != nil {
			t.Fatal(err)
		}
		crt := tls.Certificate{}
		if offer != nil {
			if crt, err = tls.LoadX509KeyPair(offer.Cert, offer.Key); err != nil {
				t.Fatal(err)
			}
		}
		c.Certificates = nil
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &crt, nil }
		return c
	}
	master := mtls.FileSet{Dir: e.cfg.TLS.Dir}.Master()
	otherClient := other.Client("tester")
	for _, tc := range []struct {
		name   string
		offer  *mtls.Files
		reason string
	}{
		{"another CA's API client", &otherClient, "untrusted"},
		{"the master's own certificate", &master, "wrong_identity"},
		{"no certificate", nil, "no_certificate"},
	} {
		labels := map[string]string{"side": "api", "reason": tc.reason}
		before := promtest.Value(t, m.registry, "crawlmaster_tls_refused_peers_total", labels)
		_, err := pb.NewCrawlManagerClient(dialTLS(t, m.admin, trusting(tc.offer))).ListCrawls(callCtx(t), &pb.ListCrawlsRequest{})
		wantCode(t, tc.name, err, codes.Unavailable)
		testwait.Until(t, tc.name+": refusal counted", 5*time.Second, 10*time.Millisecond, func() bool {
			return promtest.Value(t, m.registry, "crawlmaster_tls_refused_peers_total", labels) > before
		})
	}
}

// A standby answers every call with FAILED_PRECONDITION and a NotLeader
// naming the leader and its API address, and NOT_SERVING to health
// checks; once the leader stops, it leads and serves.
func TestAPIStandbyNamesLeader(t *testing.T) {
	e := newAPIEnv(t)
	a := runMasterConfig(t, e.cfg)
	a.wait(t, a.led, "a leading", 30*time.Second)
	b := runMasterConfig(t, e.cfg)
	b.wait(t, b.standby, "b standing by", 30*time.Second)
	aID, _ := a.id.Load().(string)
	conn := e.dial(t, b.admin)
	c := pb.NewCrawlManagerClient(conn)

	calls := map[string]func() error{
		"SubmitURLs": func() error {
			_, err := c.SubmitURLs(callCtx(t), &pb.SubmitURLsRequest{Urls: []string{"https://example.com/"}})
			return err
		},
		"CreateCrawl": func() error {
			_, err := c.CreateCrawl(callCtx(t), &pb.CreateCrawlRequest{Name: "x"})
			return err
		},
		"ListCrawls": func() error { _, err := c.ListCrawls(callCtx(t), &pb.ListCrawlsRequest{}); return err },
		"GetCrawl":   func() error { _, err := c.GetCrawl(callCtx(t), &pb.GetCrawlRequest{Name: "default"}); return err },
		"PauseCrawl": func() error { _, err := c.PauseCrawl(callCtx(t), &pb.PauseCrawlRequest{Name: "default"}); return err },
		"ResumeCrawl": func() error {
			_, err := c.ResumeCrawl(callCtx(t), &pb.ResumeCrawlRequest{Name: "default"})
			return err
		},
		"GetStatus": func() error { _, err := c.GetStatus(callCtx(t), &pb.GetStatusRequest{}); return err },
		"StreamResults": func() error {
			s, err := c.StreamResults(callCtx(t), &pb.StreamResultsRequest{})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		},
	}
	// notLeader returns the NotLeader detail of err.
	notLeader := func(err error) *pb.NotLeader {
		for _, d := range status.Convert(err).Details() {
			if nl, ok := d.(*pb.NotLeader); ok {
				return nl
			}
		}
		return nil
	}
	// The leader's heartbeat, with its address, may come a beat later
	// than its lock: until then the standby knows no leader (UNAVAILABLE).
	testwait.UntilWhy(t, "the standby names the leader", 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		err := calls["GetStatus"]()
		return status.Code(err) == codes.FailedPrecondition, status.Convert(err).String()
	})
	for name, call := range calls {
		err := call()
		nl := notLeader(err)
		if status.Code(err) != codes.FailedPrecondition || nl == nil || nl.GetLeaderId() != aID || nl.GetLeaderAddr() != a.admin ||
			nl.GetMasterId() == "" || nl.GetMasterId() == aID || !strings.Contains(status.Convert(err).Message(), aID) {
			t.Errorf("%s on the standby: %v (details %v); want FAILED_PRECONDITION naming the leader %s at %s", name, err, nl, aID, a.admin)
		}
	}
	if h, err := healthpb.NewHealthClient(conn).Check(callCtx(t), &healthpb.HealthCheckRequest{}); err != nil || h.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health of the standby: %v, %v; want NOT_SERVING", h, err)
	}
	if code, body := probe(t, b.admin, "/readyz"); code != 200 || body != "standby" {
		t.Errorf("the standby's /readyz: %d %q", code, body)
	}

	// The leader stops: the standby takes over and serves.
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	b.wait(t, b.led, "b leading", 15*time.Second)
	testwait.UntilWhy(t, "the new leader serves", 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		err := calls["ListCrawls"]()
		return err == nil, status.Convert(err).String()
	})
	if h, err := healthpb.NewHealthClient(conn).Check(callCtx(t), &healthpb.HealthCheckRequest{Service: "crawlmaster.v1.CrawlManager"}); err != nil ||
		h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health of the new leader: %v, %v; want SERVING", h, err)
	}
}

// The stopped master's port refuses connections: the API and the admin
// endpoint stop together.
func TestAPIStopsWithTheMaster(t *testing.T) {
	e := newAPIEnv(t)
	m := runMasterConfig(t, e.cfg)
	m.wait(t, m.led, "leading", 30*time.Second)
	c := pb.NewCrawlManagerClient(e.dial(t, m.admin))
	if _, err := c.GetStatus(callCtx(t), &pb.GetStatusRequest{}); err != nil {
		t.Fatal(err)
	}
	if err := m.stop(); err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", m.admin, time.Second)
	if err == nil {
		conn.Close()
		t.Fatal("the port accepts connections after the master stopped")
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("dial after stop: %v", err)
	}
}
