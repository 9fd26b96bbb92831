package dispatch

import (
	"github.com/crawlmaster/crawlmaster/internal/wire"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"math/rand/v2"
	"strings"
	"time"

	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// outcome turns one streamed result into a decided outcome. ok is false
// when the result is not an outcome at all: the assistant gave the URL
// back unfetched (its fetch was cancelled), and it is released instead.
func (d *Dispatcher) outcome(assistant string, t frontier.Task, r *pb.CrawlResult) (frontier.Outcome, bool) {
	if r.GetDisposition() == pb.Disposition_DISPOSITION_UNFETCHED {
		return frontier.Outcome{}, false
	}
	class := wire.ClassFromProto(r.GetErrorClass())
	now := time.Now()
	dec := d.cfg.Retry.Decide(class, t.Attempts, r.GetRetryAfter().AsDuration(), now, rand.Float64())
	fetchedAt := now
	if ts := r.GetFetchedAt(); ts != nil {
		fetchedAt = ts.AsTime()
	}
	o := frontier.Outcome{
		URLID:         t.URLID,
		Token:         t.Token,
		State:         dec.State,
		NextFetchAt:   dec.NextFetchAt,
		URL:           t.URL,
		FinalURL:      clean(r.GetFinalUrl(), 4096),
		HTTPStatus:    r.GetHttpStatus(),
		ContentType:   clean(r.GetContentType(), 256),
		BodySize:      r.GetBodySize(),
		BodyTruncated: r.GetBodyTruncated(),
		FetchDuration: r.GetFetchDuration().AsDuration(),
		Title:         clean(r.GetTitle(), 1024),
		ContentHash:   r.GetContentHash(),
		Class:         class,
		Error:         clean(r.GetErrorMessage(), 1024),
		Robots:        robotsName(r.GetRobots()),
		Redirects:     r.GetRedirects(),
		Attempts:      int32(t.Attempts),
		Assistant:     assistant,
		FetchedAt:     fetchedAt,
	}
	if dec.State == frontier.StateDone && d.cfg.SendBodyCap > 0 {
		body := r.GetBody()
		if int64(len(body)) > d.cfg.SendBodyCap {
			body = body[:d.cfg.SendBodyCap]
		}
		o.Body = body
	}
	return o, true
}

// clean makes assistant-supplied text safe to store: valid UTF-8, no NUL
// bytes (PostgreSQL text rejects them, which would fail the whole batch),
// and bounded in length.
func clean(s string, limit int) string {
	if len(s) > limit {
		s = s[:limit]
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func robotsName(r pb.RobotsDecision) string {
	switch r {
	case pb.RobotsDecision_ROBOTS_DECISION_ALLOWED:
		return "allowed"
	case pb.RobotsDecision_ROBOTS_DECISION_DISALLOWED:
		return "disallowed"
	case pb.RobotsDecision_ROBOTS_DECISION_UNAVAILABLE:
		return "unavailable"
	}
	return "unknown"
}
