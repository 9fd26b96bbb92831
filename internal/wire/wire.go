package wire

import (
	"google.golang.org/grpc/status"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/linkkind"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// classes pairs every errclass.Class with its enum value.
var classes = [...]struct {
	c errclass.Class
	p pb.ErrorClass
}{
	{errclass.OK, pb.ErrorClass_ERROR_CLASS_OK},
	{errclass.HTTP4xx, pb.ErrorClass_ERROR_CLASS_HTTP_4XX},
	{errclass.HTTP429, pb.ErrorClass_ERROR_CLASS_HTTP_429},
	{errclass.HTTP5xx, pb.ErrorClass_ERROR_CLASS_HTTP_5XX},
	{errclass.RobotsDisallowed, pb.ErrorClass_ERROR_CLASS_ROBOTS_DISALLOWED},
	{errclass.RobotsUnavailable, pb.ErrorClass_ERROR_CLASS_ROBOTS_UNAVAILABLE},
	{errclass.Timeout, pb.ErrorClass_ERROR_CLASS_TIMEOUT},
	{errclass.ConnRefused, pb.ErrorClass_ERROR_CLASS_CONN_REFUSED},
	{errclass.ConnReset, pb.ErrorClass_ERROR_CLASS_CONN_RESET},
	{errclass.DNSNotFound, pb.ErrorClass_ERROR_CLASS_DNS_NOT_FOUND},
	{errclass.DNSTemporary, pb.ErrorClass_ERROR_CLASS_DNS_TEMPORARY},
	{errclass.TooManyRedirects, pb.ErrorClass_ERROR_CLASS_TOO_MANY_REDIRECTS},
	{errclass.TLS, pb.ErrorClass_ERROR_CLASS_TLS},
	{errclass.InvalidURL, pb.ErrorClass_ERROR_CLASS_INVALID_URL},
	{errclass.BlockedAddress, pb.ErrorClass_ERROR_CLASS_BLOCKED_ADDRESS},
	{errclass.Protocol, pb.ErrorClass_ERROR_CLASS_PROTOCOL},
	{errclass.Canceled, pb.ErrorClass_ERROR_CLASS_CANCELED},
	{errclass.Other, pb.ErrorClass_ERROR_CLASS_OTHER},
}

// ClassToProto returns the enum value of c; a class this table does not
// know (a newer library's) is sent as OTHER.
func ClassToProto(c errclass.Class) pb.ErrorClass {
	for _, e := range classes {
		if e.c == c {
			return e.p
		}
	}
	return pb.ErrorClass_ERROR_CLASS_OTHER
}

// ClassFromProto returns the class of an enum value; UNSPECIFIED and
// values this build does not know (a newer assistant's) are Other, which
// is transient: the URL is retried rather than dropped.
func ClassFromProto(p pb.ErrorClass) errclass.Class {
	for _, e := range classes {
		if e.p == p {
			return e.c
		}
	}
	return errclass.Other
}

// linkKinds pairs every linkkind.Kind with its enum value.
var linkKinds = [...]struct {
	k linkkind.Kind
	p pb.LinkKind
}{
	{linkkind.Anchor, pb.LinkKind_LINK_KIND_ANCHOR},
	{linkkind.Frame, pb.LinkKind_LINK_KIND_FRAME},
	{linkkind.Redirect, pb.LinkKind_LINK_KIND_REDIRECT},
	{linkkind.Sitemap, pb.LinkKind_LINK_KIND_SITEMAP},
}

// LinkKindToProto returns the enum value of k; a kind this table does not
// know is sent as UNSPECIFIED.
func LinkKindToProto(k linkkind.Kind) pb.LinkKind {
	for _, e := range linkKinds {
		if e.k == k {
			return e.p
		}
	}
	return pb.LinkKind_LINK_KIND_UNSPECIFIED
}

// LinkKindFromProto returns the kind of an enum value. ok is false for
// UNSPECIFIED and for values this build does not know (a newer
// assistant's): the receiver cannot know the link's depth, and should
// skip it.
func LinkKindFromProto(p pb.LinkKind) (k linkkind.Kind, ok bool) {
	for _, e := range linkKinds {
		if e.p == p {
			return e.k, true
		}
	}
	return 0, false
}

// RefusalOf returns the reason of a Crawl call the assistant refused
// before fetching anything, read from the Refusal in the status details.
// ok is false for any other error (a broken stream, a deadline, a
// refusal without its detail).
func RefusalOf(err error) (reason pb.RefusalReason, ok bool) {
	st, isStatus := status.FromError(err)
	if !isStatus || err == nil {
		return pb.RefusalReason_REFUSAL_REASON_UNSPECIFIED, false
	}
	for _, d := range st.Details() {
		if r, isRefusal := d.(*pb.Refusal); isRefusal && r.GetReason() != pb.RefusalReason_REFUSAL_REASON_UNSPECIFIED {
			return r.GetReason(), true
		}
	}
	return pb.RefusalReason_REFUSAL_REASON_UNSPECIFIED, false
}

// Message size bounds, set explicitly on both sides of the Crawl call
// (gRPC's defaults are 4 MiB received, unlimited sent): a peer that sends
// more is cut off with ResourceExhausted instead of being buffered.
const (
	// maxURLBytes is the longest URL a task or link carries
	// (urlnorm.MaxLength, crawl.MaxLinkLength).
	maxURLBytes = 8 << 10
	// linkBytes bounds the URLs of one result: a page's links
	// (crawl.MaxLinkBytes) plus its host's sitemaps (crawl.MaxSitemapBytes).
	linkBytes = 4<<20 + 8<<20
	// slack covers the fields around them: per-link kinds and lengths
	// (at most 50,000 sitemap URLs and max_links page links, a few bytes
	// each), titles, error text, timestamps.
	slack = 2 << 20
)

// MaxRequestBytes bounds a CrawlRequest of up to tasks URLs.
func MaxRequestBytes(tasks int) int { return tasks*(maxURLBytes+256) + slack }

// MaxResultBytes bounds one streamed CrawlResult whose body is at most
// bodyCap bytes.
func MaxResultBytes(bodyCap int64) int { return int(bodyCap) + linkBytes + slack }
