package dispatch

import (
	"strings"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/urlnorm"
	"github.com/crawlmaster/crawlmaster/internal/wire"
	"github.com/crawlmaster/crawlmaster/master/admit"
	"github.com/crawlmaster/crawlmaster/master/frontier"
	"github.com/crawlmaster/crawlmaster/master/retry"
	"github.com/crawlmaster/crawlmaster/master/revisit"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// decide turns one streamed result of task t into a decided outcome: the
// retry policy picks the URL's next state; assistant-supplied text is made
// safe to store; the body is kept only for a success, up to the send cap,
// and not for a page that asked not to be indexed; the links of a success
// go through its crawl's admission policy (those refused are counted in
// refused). now and u (uniform in [0,1)) are the retry policy's clock and
// dice.
func decide(cfg *Config, assistant string, t frontier.Task, r *pb.CrawlResult, pol *admit.Policy,
	refused *admit.Refused, now time.Time, u float64) frontier.Outcome {
	class := wire.ClassFromProto(r.GetErrorClass())
	dec := cfg.Retry.Decide(class, t.Attempts, r.GetRetryAfter().AsDuration(), now, u)
	attempts := t.Attempts
	if r.GetNotRequested() && class.Transient() {
		// Nothing was sent: an assistant's remembered robots.txt failure
		// decided it. Not an attempt; retry once the verdict expires.
		attempts--
		dec = retry.Decision{State: frontier.StatePending,
			NextFetchAt: now.Add(max(cfg.Retry.Backoff(1, u), r.GetRetryAfter().AsDuration()))}
	}
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
		FinalURL:      clean(urlnorm.Redact(r.GetFinalUrl()), 4096),
		HTTPStatus:    r.GetHttpStatus(),
		ContentType:   clean(r.GetContentType(), 256),
		BodySize:      r.GetBodySize(),
		BodyTruncated: r.GetBodyTruncated(),
		FetchDuration: r.GetFetchDuration().AsDuration(),
		Title:         clean(r.GetTitle(), 1024),
		ContentHash:   r.GetContentHash(),
		Class:         class,
		Error:         clean(urlnorm.Redact(r.GetErrorMessage()), 1024), // an older assistant may echo userinfo
		Robots:        robotsName(r.GetRobots()),
		Redirects:     r.GetRedirects(),
		Attempts:      int32(attempts),
		Assistant:     assistant,
		FetchedAt:     fetchedAt,
		CrawlID:       t.CrawlID,
		Depth:         t.Depth,
		NoIndex:       r.GetNoindex(),
	}
	o.NotModified = r.GetNotModified() && class == errclass.OK
	o.RequestHead, o.ResponseHead = r.GetRequestHead(), r.GetResponseHead()
	if pol != nil {
		v := r.GetValidators()
		rv := revisit.Next(pol.Crawl.Revisit, t.Revisit, revisit.Fetch{State: dec.State, At: fetchedAt,
			NotModified: o.NotModified, Hash: o.ContentHash, ETag: clean(v.GetEtag(), 1024), LastMod: clean(v.GetLastModified(), 256)})
		o.Revisit, o.RevisitAt, o.Unchanged, o.RefersTo = rv.State, rv.At, rv.Unchanged, rv.RefersTo
		if o.NotModified && rv.State != nil {
			o.ContentHash = rv.State.Hash // the content the 304 confirmed
		}
	}
	if dec.State != frontier.StateDone {
		return o
	}
	if cfg.SendBodyCap > 0 && !o.NoIndex {
		body := r.GetBody()
		if int64(len(body)) > cfg.SendBodyCap {
			body = body[:cfg.SendBodyCap]
		}
		o.Body = body
	}
	if pl := r.GetLinks(); len(pl) > 0 && pol != nil && pol.Crawl.Discovers() {
		links := make([]admit.Link, 0, len(pl))
		for _, l := range pl {
			if k, ok := linkKinds[l.GetKind()]; ok {
				links = append(links, admit.Link{URL: l.GetUrl(), Kind: k})
			}
		}
		o.Links = pol.Links(admit.Parent{Depth: t.Depth, SeedHost: t.SeedHost}, links, refused)
	}
	return o
}

// validators are the conditional-request headers of a revisit: those of
// the URL's last successful fetch.
func validators(t frontier.Task) *pb.Validators {
	if t.Revisit == nil || (t.Revisit.ETag == "" && t.Revisit.LastModified == "") {
		return nil
	}
	return &pb.Validators{Etag: t.Revisit.ETag, LastModified: t.Revisit.LastModified}
}

// linkKinds maps the protocol's link kinds to admission's; a kind this
// build does not know is dropped.
var linkKinds = map[pb.LinkKind]admit.Kind{
	pb.LinkKind_LINK_KIND_ANCHOR:   admit.Anchor,
	pb.LinkKind_LINK_KIND_FRAME:    admit.Frame,
	pb.LinkKind_LINK_KIND_REDIRECT: admit.Redirect,
	pb.LinkKind_LINK_KIND_SITEMAP:  admit.Sitemap,
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
