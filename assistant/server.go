package assistant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/internal/wire"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// Limits bound what one Crawl call may ask and send.
type Limits struct {
	// BodyCap bounds the bytes of body sent per result (and so, with the
	// links, the size of a result message).
	BodyCap int64
	// MaxTasks bounds the URLs in one Crawl request: rpc.yaml's
	// dispatch.batch_size, the most the master ever sends. A request with
	// more is refused (BAD_BATCH) before anything is fetched.
	MaxTasks int
}

// Errors returned by Crawl when it refuses a batch before fetching
// anything, encoded for the wire by one table (refusals).
var (
	ErrSlotBusy     = errors.New("assistant: slot is busy")
	ErrUnknownSlot  = errors.New("assistant: no such slot")
	ErrDraining     = errors.New("assistant: draining, not accepting batches")
	ErrInvalidBatch = errors.New("assistant: invalid batch")
)

// refusals gives each refusal its gRPC code (for generic clients) and its
// typed reason (for the master, which reads only the reason; the message
// is for people). The master's mirror table is in master/dispatch.
var refusals = []struct {
	err    error
	code   codes.Code
	reason pb.RefusalReason
}{
	{ErrSlotBusy, codes.FailedPrecondition, pb.RefusalReason_REFUSAL_REASON_SLOT_BUSY},
	{ErrUnknownSlot, codes.NotFound, pb.RefusalReason_REFUSAL_REASON_NO_SUCH_SLOT},
	{ErrDraining, codes.Unavailable, pb.RefusalReason_REFUSAL_REASON_DRAINING},
	{ErrInvalidBatch, codes.InvalidArgument, pb.RefusalReason_REFUSAL_REASON_BAD_BATCH},
}

// refusalStatus turns a refusal into its status with the Refusal detail.
func refusalStatus(err error) error {
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			st, derr := status.New(r.code, err.Error()).WithDetails(&pb.Refusal{Reason: r.reason})
			if derr != nil {
				return status.Error(codes.Internal, derr.Error())
			}
			return st.Err()
		}
	}
	return status.Error(codes.Internal, err.Error())
}

// errDrainTimeout cancels batches still running when the grace period ends.
var errDrainTimeout = errors.New("assistant: shutdown grace period over")

// Server implements the Assistant gRPC service over a fixed pool of slots.
type Server struct {
	pb.UnimplementedAssistantServer

	id      string
	fetcher crawl.Fetcher
	lim     Limits
	log     *slog.Logger
	m       *Metrics

	mu       sync.Mutex
	slots    []slot
	draining bool
	master   string // the id of the master that polled last
	running  sync.WaitGroup
	health   *health.Server // set by NewGRPCServer; NOT_SERVING from Drain on
}

type slot struct {
	batchID string // "" when idle
	cancel  context.CancelCauseFunc
}

// NewServer creates a server with n slots. id is the assistant's advertised
// address ("host:port").
func NewServer(id string, n int, f crawl.Fetcher, lim Limits, log *slog.Logger, m *Metrics) *Server {
	if m == nil {
		m = NewMetrics(nil)
	}
	m.Slots.Set(float64(n))
	return &Server{id: id, fetcher: f, lim: lim, log: log, m: m, slots: make([]slot, n)}
}

// Ready answers the admin endpoint's /readyz: ready while it takes
// batches, not once it drains.
func (s *Server) Ready() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return "", errors.New("draining")
	}
	return "serving", nil
}

// ReportIdleWorker reports the slots that hold no batch. It takes a lock
// for a few microseconds and does no I/O.
func (s *Server) ReportIdleWorker(ctx context.Context, req *pb.ReportIdleWorkerRequest) (*pb.ReportIdleWorkerResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id := req.GetMasterId(); id != s.master {
		s.log.Info("polled by a new master", "master_id", id, "previous_master_id", s.master)
		s.master = id
	}
	resp := &pb.ReportIdleWorkerResponse{AssistantId: s.id, TotalSlots: uint32(len(s.slots)), Draining: s.draining}
	for i, sl := range s.slots {
		switch {
		case sl.batchID != "":
			resp.Busy = append(resp.Busy, &pb.SlotBatch{Slot: uint32(i), BatchId: sl.batchID})
		case !s.draining:
			resp.IdleSlots = append(resp.IdleSlots, uint32(i))
		}
	}
	return resp, nil
}

// Crawl runs one batch on one idle slot and streams a result per URL. The
// slot is freed before the stream ends, so a master that sees the end may
// send the next batch at once.
func (s *Server) Crawl(req *pb.CrawlRequest, stream pb.Assistant_CrawlServer) error {
	if err := s.validate(req); err != nil {
		return refusalStatus(err)
	}
	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)
	if err := s.acquire(req, cancel); err != nil {
		return refusalStatus(err)
	}
	defer s.releaseSlot(int(req.GetSlot()))
	start := time.Now()
	sendCap := min(req.GetSendBodyCap(), s.lim.BodyCap)
	var sent, cancelled, deferred int
	maxWait := req.GetMaxPolitenessWait().AsDuration()
	// The STARTED message of the task being fetched; Fetch sends it from
	// this goroutine, so the stream is never written concurrently.
	var cur *pb.CrawlTask
	announce := func() {
		// A fresh message each time: gRPC may still hold a sent one. An
		// error means the stream is gone; the result's Send reports it.
		_ = stream.Send(&pb.CrawlResult{UrlId: cur.GetUrlId(), LeaseToken: cur.GetLeaseToken(),
			Disposition: pb.Disposition_DISPOSITION_STARTED})
	}
	fetchCtx := crawl.WithRequestStart(ctx, announce)
	for _, t := range req.GetTasks() {
		var res *crawl.Result
		if ctx.Err() == nil {
			cur = t
			res = s.fetcher.Fetch(fetchCtx, fetchRequest(t, maxWait))
		} else {
			res = &crawl.Result{URL: t.GetUrl(), Class: errclass.Canceled, Err: context.Cause(ctx).Error(), FetchedAt: time.Now()}
		}
		switch {
		case res.Deferred:
			deferred++ // given back for later (see toProto)
			s.m.Deferred.Inc()
		case res.Class == errclass.Canceled:
			cancelled++ // given back unfetched (see toProto)
			s.m.Results.WithLabelValues(string(res.Class)).Inc()
		default:
			s.m.Results.WithLabelValues(string(res.Class)).Inc()
		}
		if err := stream.Send(toProto(t, res, sendCap)); err != nil {
			// The master went away or cancelled: nothing more can be sent.
			s.log.Warn("batch aborted", "batch", req.GetBatchId(), "slot", req.GetSlot(), "sent", sent, "err", err)
			return err
		}
		sent++
	}
	s.m.BatchDuration.Observe(time.Since(start).Seconds())
	s.log.Info("batch done", "batch", req.GetBatchId(), "slot", req.GetSlot(), "master_id", req.GetMasterId(), "urls", sent,
		"cancelled", cancelled, "deferred", deferred, "duration", time.Since(start).Round(time.Millisecond))
	if cause := context.Cause(ctx); errors.Is(cause, errDrainTimeout) {
		return status.Error(codes.Unavailable, cause.Error())
	}
	return nil
}

func (s *Server) validate(req *pb.CrawlRequest) error {
	n := len(req.GetTasks())
	if n == 0 || n > s.lim.MaxTasks {
		return fmt.Errorf("%w: %d tasks, the most one batch may hold is %d (dispatch.batch_size)", ErrInvalidBatch, n, s.lim.MaxTasks)
	}
	if req.GetBatchId() == "" {
		return fmt.Errorf("%w: empty batch_id", ErrInvalidBatch)
	}
	for i, t := range req.GetTasks() {
		if t.GetUrl() == "" {
			return fmt.Errorf("%w: task %d has an empty url", ErrInvalidBatch, i)
		}
	}
	return nil
}

func (s *Server) acquire(req *pb.CrawlRequest, cancel context.CancelCauseFunc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := int(req.GetSlot())
	switch {
	case s.draining:
		return ErrDraining
	case i >= len(s.slots):
		return fmt.Errorf("%w: slot %d (have %d)", ErrUnknownSlot, i, len(s.slots))
	case s.slots[i].batchID != "":
		return fmt.Errorf("%w: slot %d runs batch %s", ErrSlotBusy, i, s.slots[i].batchID)
	}
	s.slots[i] = slot{batchID: req.GetBatchId(), cancel: cancel}
	s.running.Add(1)
	s.m.BusySlots.Inc()
	return nil
}

func (s *Server) releaseSlot(i int) {
	s.mu.Lock()
	s.slots[i] = slot{}
	s.mu.Unlock()
	s.m.BusySlots.Dec()
	s.running.Done()
}

// Drain stops accepting batches (ReportIdleWorker then says draining), waits
// for running batches until ctx is done, then cancels those still running
// and waits for them to return. It is safe to call more than once.
func (s *Server) Drain(ctx context.Context) {
	s.mu.Lock()
	s.draining = true
	if s.health != nil {
		// From now on health checks say NOT_SERVING (and keep saying it:
		// Shutdown ignores later updates), so a load balancer or an
		// orchestrator stops counting this assistant at once.
		s.health.Shutdown()
	}
	busy := 0
	for _, sl := range s.slots {
		if sl.batchID != "" {
			busy++
		}
	}
	s.mu.Unlock()
	s.log.Info("draining", "busy_slots", busy)
	done := make(chan struct{})
	go func() {
		s.running.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	s.mu.Lock()
	for _, sl := range s.slots {
		if sl.cancel != nil {
			sl.cancel(errDrainTimeout)
		}
	}
	s.mu.Unlock()
	s.log.Warn("grace period over; cancelled running batches")
	<-done
}

// fetchRequest is what task t asks of the fetch, waiting at most maxWait
// for its host's politeness (0: as long as needed). A task without policy
// (a master that predates policies, or a crawl of the URLs given) follows
// redirects and reads no links and no sitemaps, as before policies.
func fetchRequest(t *pb.CrawlTask, maxWait time.Duration) crawl.Request {
	v := t.GetValidators()
	req := crawl.Request{URL: t.GetUrl(), FollowRedirects: true, MaxWait: maxWait,
		IfNoneMatch: v.GetEtag(), IfModifiedSince: v.GetLastModified()}
	if p := t.GetPolicy(); p != nil {
		req.FollowRedirects = p.GetFollowRedirects()
		req.MaxLinks = int(min(p.GetMaxLinks(), maxLinks))
		req.Sitemaps = p.GetSitemaps()
	}
	return req
}

// maxLinks bounds a policy's max_links: far above any useful per-page cap,
// low enough that the per-result memory stays bounded by it as well as by
// crawl.MaxLinkBytes.
const maxLinks = 100000

// toProto converts a fetch result, sending at most sendCap bytes of body.
// A noindex page's body is sent as any other: the master decides what it
// stores.
func toProto(t *pb.CrawlTask, r *crawl.Result, sendCap int64) *pb.CrawlResult {
	out := &pb.CrawlResult{
		UrlId:         t.GetUrlId(),
		LeaseToken:    t.GetLeaseToken(),
		Url:           t.GetUrl(),
		FinalUrl:      r.FinalURL,
		HttpStatus:    int32(r.Status),
		ContentType:   r.ContentType,
		BodySize:      r.BodySize,
		BodyTruncated: r.Truncated,
		FetchDuration: durationpb.New(r.Duration),
		Title:         r.Title,
		ErrorClass:    wire.ClassToProto(r.Class),
		Disposition:   pb.Disposition_DISPOSITION_FETCHED,
		ErrorMessage:  r.Err,
		Robots:        robotsProto(r.Robots),
		Redirects:     int32(r.Redirects),
		FetchedAt:     timestamppb.New(r.FetchedAt),
	}
	// A cancelled fetch says nothing about the URL: the task goes back
	// unfetched, and the master charges it no attempt.
	switch {
	case r.Deferred:
		// Not requested: the host was not ready within the batch's
		// max_politeness_wait. The master sends it again after
		// next_request_after.
		out.Disposition = pb.Disposition_DISPOSITION_DEFERRED
	case r.Class == errclass.Canceled:
		out.Disposition = pb.Disposition_DISPOSITION_UNFETCHED
	}
	if out.FinalUrl == "" {
		out.FinalUrl = t.GetUrl()
	}
	if r.BodySize > 0 {
		out.ContentHash = r.ContentHash[:]
	}
	if sendCap > 0 && len(r.Body) > 0 {
		out.Body = r.Body[:min(int64(len(r.Body)), sendCap)]
	}
	if r.RetryAfter > 0 {
		out.RetryAfter = durationpb.New(r.RetryAfter)
	}
	if len(r.Links) > 0 {
		out.Links = make([]*pb.Link, len(r.Links))
		for i, l := range r.Links {
			out.Links[i] = &pb.Link{Url: l.URL, Kind: wire.LinkKindToProto(l.Kind)}
		}
	}
	out.LinksDropped = uint32(min(max(r.LinksDropped, 0), math.MaxUint32))
	out.Noindex, out.Nofollow = r.NoIndex, r.NoFollow
	out.NotRequested = r.NotRequested
	out.SitemapsRead = r.SitemapsRead
	out.NotModified = r.NotModified
	if r.ETag != "" || r.LastModified != "" {
		out.Validators = &pb.Validators{Etag: r.ETag, LastModified: r.LastModified}
	}
	out.RequestHead, out.ResponseHead = r.RequestHead, r.ResponseHead
	if r.NextRequestAfter > 0 {
		out.NextRequestAfter = durationpb.New(r.NextRequestAfter)
	}
	return out
}

func robotsProto(d crawl.RobotsDecision) pb.RobotsDecision {
	switch d {
	case crawl.RobotsAllowed:
		return pb.RobotsDecision_ROBOTS_DECISION_ALLOWED
	case crawl.RobotsDisallowed:
		return pb.RobotsDecision_ROBOTS_DECISION_DISALLOWED
	case crawl.RobotsUnavailable:
		return pb.RobotsDecision_ROBOTS_DECISION_UNAVAILABLE
	}
	return pb.RobotsDecision_ROBOTS_DECISION_UNSPECIFIED
}
