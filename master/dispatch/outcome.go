package dispatch

import (
	"strings"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/wire"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// decide turns one streamed result of task t into a decided outcome: the
// retry policy picks the URL's next state; assistant-supplied text is made
// safe to store; the body is kept only for a success and only up to the
// send cap. now and u (uniform in [0,1)) are the policy's clock and dice.
func decide(cfg *Config, assistant string, t frontier.Task, r *pb.CrawlResult, now time.Time, u float64) frontier.Outcome {
	class := wire.ClassFromProto(r.GetErrorClass())
	dec := cfg.Retry.Decide(class, t.Attempts, r.GetRetryAfter().AsDuration(), now, u)
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
	if dec.State == frontier.StateDone && cfg.SendBodyCap > 0 {
		body := r.GetBody()
		if int64(len(body)) > cfg.SendBodyCap {
			body = body[:cfg.SendBodyCap]
		}
		o.Body = body
	}
	return o
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
