package master

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/master/admit"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// api is the CrawlManager service of one master (proto/crawlmaster/v1/
// manager.proto documents it). It serves only while the master leads;
// the leader gate (api_server.go) answers NotLeader otherwise.
type api struct {
	pb.UnimplementedCrawlManagerServer
	me    *self
	guard *netguard.Guard // fetch.allowed_networks, as `master enqueue` applies it
	log   *slog.Logger
	m     *apiMetrics
	// poll is how often a caught-up StreamResults asks for new results
	// (jittered); bodyCap is persist.stored_body_cap, which sizes the
	// pages of a stream with bodies.
	poll    time.Duration
	bodyCap int64
	after   func(time.Duration) <-chan time.Time // time.After, injectable for tests
	// polled, when set (tests), is called after each ResultsAfter of a
	// stream with the number of records it returned.
	polled func(n int)
}

// maxSubmitURLs is the most URLs one SubmitURLs call may carry.
const maxSubmitURLs = 10000

// defaultCrawlName is the crawl SubmitURLs adds to when none is named.
const defaultCrawlName = "default"

// Errors of the API that the table below maps to codes.
var (
	// errBadRequest: the request is malformed.
	errBadRequest = errors.New("invalid request")
	// errNoDatabase: the master has no database connection yet.
	errNoDatabase = errors.New("the master is not connected to the database yet")
)

// apiCodes maps errors to the status codes of the API, in one table:
// every error a method returns goes through apiError.
var apiCodes = [...]struct {
	err  error
	code codes.Code
}{
	{store.ErrNoCrawl, codes.NotFound},
	{store.ErrCrawlExists, codes.AlreadyExists},
	{errBadRequest, codes.InvalidArgument},
	{errNoDatabase, codes.Unavailable},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
}

// apiError turns err into a status error: a status error as it is, a
// known error by apiCodes, a database connection failure UNAVAILABLE,
// anything else INTERNAL.
func apiError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, e := range apiCodes {
		if errors.Is(err, e.err) {
			return status.Error(e.code, err.Error())
		}
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) {
		return status.Error(codes.Unavailable, "database unreachable: "+err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// store returns the master's store, once it has connected.
func (a *api) store() (*store.Store, error) {
	pool := a.me.pool.Load()
	if pool == nil {
		return nil, errNoDatabase
	}
	return store.New(pool), nil
}

// notLeader is the answer of a master that does not lead: FAILED_PRECONDITION
// naming the leader, or UNAVAILABLE when none leads now, with NotLeader in
// the details either way.
func (a *api) notLeader(ctx context.Context) error {
	nl := &pb.NotLeader{MasterId: a.me.id}
	if st, err := a.store(); err == nil {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ms, err := st.Masters(qctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			a.log.Warn("read the masters for a not-leader answer", "err", err)
		}
		now := time.Now()
		for _, b := range ms {
			// A leader's row without a recent beat is a leader that died.
			if b.Role == store.RoleLeader && b.ID != a.me.id && now.Sub(b.UpdatedAt) <= staleBeat {
				nl.LeaderId, nl.LeaderAddr = b.ID, b.APIAddr
				break
			}
		}
	}
	s := status.New(codes.Unavailable, fmt.Sprintf("master %s does not lead and no master leads now; retry later", a.me.id))
	if nl.LeaderId != "" {
		addr := nl.LeaderAddr
		if addr == "" {
			addr = "an unknown address (its API is off)"
		}
		s = status.New(codes.FailedPrecondition, fmt.Sprintf("master %s does not lead: call the leader %s at %s", a.me.id, nl.LeaderId, addr))
	}
	if d, err := s.WithDetails(nl); err == nil {
		s = d
	}
	return s.Err()
}

func (a *api) SubmitURLs(ctx context.Context, req *pb.SubmitURLsRequest) (*pb.SubmitURLsResponse, error) {
	if n := len(req.GetUrls()); n > maxSubmitURLs {
		return nil, apiError(fmt.Errorf("%w: urls: %d URLs, at most %d per call", errBadRequest, n, maxSubmitURLs))
	}
	st, err := a.store()
	if err != nil {
		return nil, apiError(err)
	}
	crawl, err := st.Crawl(ctx, cmp.Or(req.GetCrawl(), defaultCrawlName))
	if err != nil {
		return nil, apiError(err)
	}
	subs, err := Submit(ctx, st, crawl, req.GetUrls(), req.GetPriority(), a.guard)
	if err != nil {
		return nil, apiError(err)
	}
	resp := &pb.SubmitURLsResponse{Verdicts: make([]*pb.URLVerdict, len(subs))}
	for i, s := range subs {
		v := &pb.URLVerdict{NormalizedUrl: s.URL}
		if s.Verdict == SeedAccepted {
			v.Verdict = &pb.URLVerdict_Accepted{Accepted: &pb.URLAccepted{}}
			resp.Accepted++
		} else {
			r := &pb.URLRejected{Reason: seedReasons[s.Verdict]}
			switch {
			case s.Err != nil:
				r.Message = s.Err.Error()
			case s.Verdict == SeedDuplicate:
				r.Message = "given earlier in this request"
			case s.Verdict == SeedKnown:
				r.Message = "the crawl " + crawl.Name + " has it already"
			}
			v.Verdict = &pb.URLVerdict_Rejected{Rejected: r}
			resp.Rejected++
		}
		resp.Verdicts[i] = v
	}
	return resp, nil
}

// seedReasons maps each refusing SeedVerdict to its enum value.
var seedReasons = map[SeedVerdict]pb.URLRejectReason{
	SeedInvalid:           pb.URLRejectReason_URL_REJECT_REASON_INVALID,
	SeedUnsupportedScheme: pb.URLRejectReason_URL_REJECT_REASON_UNSUPPORTED_SCHEME,
	SeedTooLong:           pb.URLRejectReason_URL_REJECT_REASON_TOO_LONG,
	SeedBlockedAddress:    pb.URLRejectReason_URL_REJECT_REASON_BLOCKED_ADDRESS,
	SeedDuplicate:         pb.URLRejectReason_URL_REJECT_REASON_DUPLICATE,
	SeedKnown:             pb.URLRejectReason_URL_REJECT_REASON_ALREADY_KNOWN,
}

func (a *api) CreateCrawl(ctx context.Context, req *pb.CreateCrawlRequest) (*pb.CreateCrawlResponse, error) {
	c, err := crawlFromProto(req.GetName(), req.GetPolicy())
	if err != nil {
		return nil, apiError(err)
	}
	st, err := a.store()
	if err != nil {
		return nil, apiError(err)
	}
	created, err := st.CreateCrawl(ctx, c)
	if err != nil {
		return nil, apiError(err)
	}
	return &pb.CreateCrawlResponse{Crawl: crawlInfo(created, nil)}, nil
}

func (a *api) ListCrawls(ctx context.Context, _ *pb.ListCrawlsRequest) (*pb.ListCrawlsResponse, error) {
	st, err := a.store()
	if err != nil {
		return nil, apiError(err)
	}
	ps, err := readProgress(ctx, st)
	if err != nil {
		return nil, apiError(err)
	}
	resp := &pb.ListCrawlsResponse{}
	for _, p := range ps {
		resp.Crawls = append(resp.Crawls, crawlInfo(p.crawl, p.counts))
	}
	return resp, nil
}

func (a *api) GetCrawl(ctx context.Context, req *pb.GetCrawlRequest) (*pb.GetCrawlResponse, error) {
	st, err := a.store()
	if err != nil {
		return nil, apiError(err)
	}
	c, err := st.Crawl(ctx, req.GetName())
	if err != nil {
		return nil, apiError(err)
	}
	counts, err := st.CrawlCounts(ctx, time.Now().Add(-time.Minute))
	if err != nil {
		return nil, apiError(err)
	}
	n := counts[c.ID]
	if n == nil {
		n = &store.CrawlCounts{CrawlID: c.ID}
	}
	return &pb.GetCrawlResponse{Crawl: crawlInfo(c, n)}, nil
}

func (a *api) PauseCrawl(ctx context.Context, req *pb.PauseCrawlRequest) (*pb.PauseCrawlResponse, error) {
	c, err := a.setPaused(ctx, req.GetName(), true)
	if err != nil {
		return nil, err
	}
	return &pb.PauseCrawlResponse{Crawl: c}, nil
}

func (a *api) ResumeCrawl(ctx context.Context, req *pb.ResumeCrawlRequest) (*pb.ResumeCrawlResponse, error) {
	c, err := a.setPaused(ctx, req.GetName(), false)
	if err != nil {
		return nil, err
	}
	return &pb.ResumeCrawlResponse{Crawl: c}, nil
}

func (a *api) setPaused(ctx context.Context, name string, paused bool) (*pb.CrawlInfo, error) {
	st, err := a.store()
	if err != nil {
		return nil, apiError(err)
	}
	if err := st.SetPaused(ctx, name, paused); err != nil {
		return nil, apiError(err)
	}
	c, err := st.Crawl(ctx, name)
	if err != nil {
		return nil, apiError(err)
	}
	return crawlInfo(c, nil), nil
}

func (a *api) GetStatus(ctx context.Context, _ *pb.GetStatusRequest) (*pb.GetStatusResponse, error) {
	st, err := a.store()
	if err != nil {
		return nil, apiError(err)
	}
	r, err := ReadReport(ctx, st)
	if err != nil {
		return nil, apiError(err)
	}
	return statusToProto(r), nil
}

// scopes pairs each crawl scope with its enum value.
var scopes = [...]enumPair[pb.CrawlScope]{
	{frontier.ScopeHost, pb.CrawlScope_CRAWL_SCOPE_HOST},
	{frontier.ScopeDomain, pb.CrawlScope_CRAWL_SCOPE_DOMAIN},
	{frontier.ScopeAny, pb.CrawlScope_CRAWL_SCOPE_ANY},
}

// revisitModes and overlaps pair the crawl's revisit modes and overlap
// rules with their enum values.
var (
	revisitModes = [...]enumPair[pb.RevisitMode]{
		{frontier.RevisitNone, pb.RevisitMode_REVISIT_MODE_NONE},
		{frontier.RevisitFixed, pb.RevisitMode_REVISIT_MODE_FIXED},
		{frontier.RevisitAdaptive, pb.RevisitMode_REVISIT_MODE_ADAPTIVE},
	}
	overlaps = [...]enumPair[pb.ScheduleOverlap]{
		{frontier.OverlapSkip, pb.ScheduleOverlap_SCHEDULE_OVERLAP_SKIP},
		{frontier.OverlapMerge, pb.ScheduleOverlap_SCHEDULE_OVERLAP_MERGE},
	}
)

// enumPair is a string of the Go side and its enum value.
type enumPair[E comparable] struct {
	name string
	enum E
}

// enumName is the name paired with e; "" when none is.
func enumName[E comparable](pairs []enumPair[E], e E) string {
	for _, p := range pairs {
		if p.enum == e {
			return p.name
		}
	}
	return ""
}

// enumOf is the value paired with name; the zero value (UNSPECIFIED) when
// none is.
func enumOf[E comparable](pairs []enumPair[E], name string) E {
	for _, p := range pairs {
		if p.name == name {
			return p.enum
		}
	}
	var zero E
	return zero
}

// crawlFromProto is the crawl CreateCrawl asks for: `master crawl
// create`'s defaults with the policy's set fields, validated as that
// command validates it.
func crawlFromProto(name string, p *pb.CrawlPolicy) (frontier.Crawl, error) {
	if p == nil {
		p = &pb.CrawlPolicy{}
	}
	c := frontier.NewCrawl(name)
	var bad []string
	if s := p.GetScope(); s != pb.CrawlScope_CRAWL_SCOPE_UNSPECIFIED {
		c.Scope = enumName(scopes[:], s)
		if c.Scope == "" {
			bad = append(bad, fmt.Sprintf("policy.scope %d: not a CrawlScope", s))
			c.Scope = frontier.ScopeDomain // reported once, not again by Validate
		}
	}
	c.Allow, c.Deny = slices.Clone(p.GetAllow()), slices.Clone(p.GetDeny())
	for _, f := range []struct {
		v   *uint32
		dst *int
	}{
		{p.MaxDepth, &c.MaxDepth}, {p.SiteBudget, &c.SiteBudget}, {p.MaxLinks, &c.MaxLinks},
		{p.MaxUrlLength, &c.MaxURLLength}, {p.MaxPathSegments, &c.MaxPathSegments}, {p.MaxRepeatedSegments, &c.MaxRepeatedSegments},
	} {
		if f.v != nil {
			*f.dst = int(min(*f.v, 1<<31-1))
		}
	}
	if p.Sitemaps != nil {
		c.Sitemaps = *p.Sitemaps
	}
	if m := p.GetRevisit(); m != pb.RevisitMode_REVISIT_MODE_UNSPECIFIED {
		c.Revisit.Mode = enumName(revisitModes[:], m)
		if c.Revisit.Mode == "" {
			bad = append(bad, fmt.Sprintf("policy.revisit %d: not a RevisitMode", m))
			c.Revisit.Mode = frontier.RevisitNone
		}
	}
	c.Schedule.Cron = p.GetCron()
	if o := p.GetOverlap(); o != pb.ScheduleOverlap_SCHEDULE_OVERLAP_UNSPECIFIED {
		c.Schedule.Overlap = enumName(overlaps[:], o)
		if c.Schedule.Overlap == "" {
			bad = append(bad, fmt.Sprintf("policy.overlap %d: not a ScheduleOverlap", o))
			c.Schedule.Overlap = frontier.OverlapSkip
		}
	}
	for _, f := range []struct {
		name string
		v    *durationpb.Duration
		dst  *time.Duration
	}{
		{"revisit_done", p.RevisitDone, &c.Revisit.Done}, {"revisit_failed", p.RevisitFailed, &c.Revisit.Failed},
		{"revisit_dead", p.RevisitDead, &c.Revisit.Dead}, {"revisit_min", p.RevisitMin, &c.Revisit.Min},
		{"revisit_max", p.RevisitMax, &c.Revisit.Max}, {"every", p.Every, &c.Schedule.Every}, {"retention", p.Retention, &c.Retention},
	} {
		if f.v == nil {
			continue
		}
		if err := f.v.CheckValid(); err != nil {
			bad = append(bad, fmt.Sprintf("policy.%s: %v", f.name, err))
			continue
		}
		*f.dst = f.v.AsDuration()
	}
	// admit.Validate names the fields as the command's flags do
	// (--max-depth is policy.max_depth).
	if err := admit.Validate(c); err != nil {
		bad = append(bad, err.Error())
	}
	if len(bad) > 0 {
		return c, fmt.Errorf("%w: %s", errBadRequest, strings.Join(bad, "; "))
	}
	return c, nil
}

// crawlInfo describes c; counts nil leaves its progress unset.
func crawlInfo(c frontier.Crawl, counts *store.CrawlCounts) *pb.CrawlInfo {
	u32 := func(v int) *uint32 { x := uint32(max(v, 0)); return &x }
	rv := c.Revisit
	info := &pb.CrawlInfo{
		Name:   c.Name,
		Paused: c.Paused,
		Policy: &pb.CrawlPolicy{
			Scope: enumOf(scopes[:], c.Scope), Allow: c.Allow, Deny: c.Deny,
			MaxDepth: u32(c.MaxDepth), SiteBudget: u32(c.SiteBudget), MaxLinks: u32(c.MaxLinks),
			MaxUrlLength: u32(c.MaxURLLength), MaxPathSegments: u32(c.MaxPathSegments),
			MaxRepeatedSegments: u32(c.MaxRepeatedSegments), Sitemaps: &c.Sitemaps,
			Revisit: enumOf(revisitModes[:], rv.Mode), RevisitDone: durationpb.New(rv.Done), RevisitFailed: durationpb.New(rv.Failed),
			RevisitDead: durationpb.New(rv.Dead), RevisitMin: durationpb.New(rv.Min), RevisitMax: durationpb.New(rv.Max),
			Every: durationpb.New(c.Schedule.Every), Cron: c.Schedule.Cron, Overlap: enumOf(overlaps[:], c.Schedule.Overlap),
			Retention: durationpb.New(c.Retention),
		},
		Rounds: uint32(max(c.Rounds, 0)),
	}
	if !c.NextRound.IsZero() {
		info.NextRoundAt = timestamppb.New(c.NextRound)
	}
	if counts == nil {
		return info
	}
	p := &pb.CrawlProgress{
		Urls:              &pb.StateCounts{},
		Discovered:        uint64(counts.Discovered()),
		FetchedLastMinute: uint64(max(counts.FetchedSince, 0)),
		NewLastMinute:     uint64(max(counts.NewSince, 0)),
	}
	depths := make([]int16, 0, len(counts.ByDepth))
	for d := range counts.ByDepth {
		depths = append(depths, d)
	}
	slices.Sort(depths)
	for _, d := range depths {
		byState := counts.ByDepth[d]
		p.Depths = append(p.Depths, &pb.DepthCounts{Depth: uint32(max(d, 0)), Urls: stateCounts(byState)})
		addCounts(p.Urls, byState)
	}
	p.Seeds = uint64(counts.Total("")) - p.Discovered
	info.Progress = p
	return info
}

// stateCounts converts counts by state.
func stateCounts(byState map[frontier.State]int64) *pb.StateCounts {
	out := &pb.StateCounts{}
	addCounts(out, byState)
	return out
}

func addCounts(out *pb.StateCounts, byState map[frontier.State]int64) {
	for s, n := range byState {
		v := uint64(max(n, 0))
		switch s {
		case frontier.StatePending:
			out.Pending += v
		case frontier.StateLeased:
			out.Leased += v
		case frontier.StateDone:
			out.Done += v
		case frontier.StateFailed:
			out.Failed += v
		case frontier.StateDead:
			out.Dead += v
		}
	}
}

// statusToProto is `master status`'s report, typed.
func statusToProto(r Report) *pb.GetStatusResponse {
	out := &pb.GetStatusResponse{
		ReadAt:            timestamppb.New(r.Now),
		Urls:              stateCounts(r.Stats.Counts),
		ResultsLastMinute: uint64(max(r.LastMinute, 0)),
		PagesPerSecond:    r.PagesPerSec(),
	}
	if !r.Stats.OldestDue.IsZero() {
		out.OldestDue = timestamppb.New(r.Stats.OldestDue)
	}
	left := r.Stats.Total() - r.Stats.Final()
	out.AllFinal = left == 0
	if left > 0 && r.LastMinute > 0 {
		out.Eta = durationpb.New(time.Duration(float64(left) / r.PagesPerSec() * float64(time.Second)))
	}
	for _, b := range r.Masters {
		role := pb.MasterRole_MASTER_ROLE_UNSPECIFIED
		switch b.Role {
		case store.RoleLeader:
			role = pb.MasterRole_MASTER_ROLE_LEADER
		case store.RoleStandby:
			role = pb.MasterRole_MASTER_ROLE_STANDBY
		}
		out.Masters = append(out.Masters, &pb.MasterInfo{Id: b.ID, Role: role, StartedAt: timestamppb.New(b.StartedAt),
			HeartbeatAt: timestamppb.New(b.UpdatedAt), Running: r.Now.Sub(b.UpdatedAt) <= staleBeat, ApiAddr: b.APIAddr})
	}
	if m := r.Master; m != nil {
		lv := &pb.LeaderView{MasterId: m.MasterID, StartedAt: timestamppb.New(m.StartedAt), UpdatedAt: timestamppb.New(m.UpdatedAt)}
		for _, a := range m.Assistants {
			lv.Assistants = append(lv.Assistants, &pb.AssistantInfo{Id: a.ID, Up: a.Up, Draining: a.Draining,
				Slots: uint32(max(a.Slots, 0)), Busy: uint32(max(a.Busy, 0)), InFlight: uint32(max(a.InFlight, 0)),
				DispatchedUrls: uint64(max(a.Dispatched, 0)), LastError: a.LastError})
		}
		out.Leader = lv
	}
	for _, c := range r.Crawls {
		out.Crawls = append(out.Crawls, crawlInfo(c.crawl, c.counts))
	}
	return out
}
