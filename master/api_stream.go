package master

import (
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/internal/backoff"
	"github.com/crawlmaster/crawlmaster/internal/wire"
	"github.com/crawlmaster/crawlmaster/master/export"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/store"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// Pages of StreamResults: records per ResultsAfter call without bodies,
// and the bytes of bodies one page may hold at most (a page with bodies
// has streamBodyBytes / stored_body_cap records, at least one).
const (
	streamPage      = 500
	streamBodyBytes = 32 << 20
)

// pageSize is the Limit of a stream's ResultsAfter calls: with bodies,
// small enough that a page of bodies at the cap stays within
// streamBodyBytes.
func (a *api) pageSize(bodies bool) int {
	if !bodies || a.bodyCap <= 0 {
		return streamPage
	}
	return int(max(1, min(streamPage, streamBodyBytes/a.bodyCap)))
}

// StreamResults sends the stored fetches after the request's cursor, in
// cursor order, page after page of store.ResultsAfter; once a page comes
// back short (caught up), it asks again every poll interval (jittered).
// It ends when the client goes away, or with the not-leader answer when
// this master stops leading; the client resumes after the last cursor it
// received, at the leader.
func (a *api) StreamResults(req *pb.StreamResultsRequest, stream grpc.ServerStreamingServer[pb.Result]) error {
	ctx := stream.Context()
	after, err := export.ParseCursor(req.GetCursor())
	if err != nil {
		return apiError(fmt.Errorf("%w: cursor: %w", errBadRequest, err))
	}
	st, err := a.store()
	if err != nil {
		return apiError(err)
	}
	q := store.ResultQuery{After: after, Bodies: req.GetIncludeBodies(), Limit: a.pageSize(req.GetIncludeBodies())}
	if name := req.GetCrawl(); name != "" {
		c, err := st.Crawl(ctx, name)
		if err != nil {
			return apiError(err)
		}
		q.CrawlID = c.ID
	}
	leading, changed := a.me.lead.get()
	if !leading { // the term ended since the gate let the call in
		return a.notLeader(ctx)
	}
	a.m.streams.Inc()
	defer a.m.streams.Dec()
	for {
		page, err := st.ResultsAfter(ctx, q)
		if err != nil {
			if ctx.Err() != nil {
				return status.FromContextError(ctx.Err()).Err()
			}
			return apiError(fmt.Errorf("read results: %w", err))
		}
		recs := page.Records
		if a.polled != nil {
			a.polled(len(recs))
		}
		for i := range recs {
			if err := stream.Send(resultToProto(&recs[i])); err != nil {
				return err // the client went away
			}
			a.m.streamed.Inc()
		}
		// Past the other crawls' results too: a quiet crawl's stream does
		// not scan them again at the next poll.
		q.After = page.Next
		if page.More {
			// More is there: the next page at once, unless the term ended.
			select {
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			case <-changed:
				return a.notLeader(ctx)
			default:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-changed:
			return a.notLeader(ctx)
		case <-a.after(backoff.Jitter(a.poll, 0.2)):
		}
	}
}

// resultStates maps a stored result's state to its enum value.
var resultStates = map[string]pb.ResultState{
	string(frontier.StateDone):   pb.ResultState_RESULT_STATE_DONE,
	string(frontier.StateFailed): pb.ResultState_RESULT_STATE_FAILED,
	string(frontier.StateDead):   pb.ResultState_RESULT_STATE_DEAD,
}

// resultToProto is the Result of a stored fetch.
func resultToProto(r *export.Record) *pb.Result {
	out := &pb.Result{
		Cursor:        r.Cursor.String(),
		LeaseToken:    r.LeaseToken,
		Crawl:         r.Crawl,
		Url:           r.URL,
		FinalUrl:      r.FinalURL,
		Depth:         uint32(max(r.Depth, 0)),
		State:         resultStates[r.State],
		ErrorClass:    wire.ClassToProto(errclass.Parse(r.Class)),
		ErrorMessage:  r.ErrorMessage,
		HttpStatus:    int32(r.HTTPStatus),
		ContentType:   r.ContentType,
		Title:         r.Title,
		FetchDuration: durationpb.New(r.Duration),
		Redirects:     uint32(max(r.Redirects, 0)),
		Links:         uint32(max(r.Links, 0)),
		ContentHash:   r.ContentHash,
		BodySize:      r.BodySize,
		BodyTruncated: r.BodyTruncated,
		Body:          r.Body,
		NotModified:   r.NotModified,
		Unchanged:     r.Unchanged,
		RequestHead:   r.RequestHead,
		ResponseHead:  r.ResponseHead,
	}
	for _, t := range []struct {
		at  time.Time
		dst **timestamppb.Timestamp
	}{{r.FetchedAt, &out.FetchedAt}, {r.PersistedAt, &out.PersistedAt}, {r.RefersTo, &out.RefersTo}} {
		if !t.at.IsZero() {
			*t.dst = timestamppb.New(t.at)
		}
	}
	return out
}
