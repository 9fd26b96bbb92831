package wire

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/linkkind"
	"github.com/crawlmaster/crawlmaster/crawl/urlnorm"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// TestClassesRoundTrip checks the table is a bijection between every
// errclass.Class and every enum value but UNSPECIFIED: a class added on one
// side only fails here.
func TestClassesRoundTrip(t *testing.T) {
	seen := map[pb.ErrorClass]errclass.Class{}
	for _, c := range errclass.All() {
		p := ClassToProto(c)
		if p == pb.ErrorClass_ERROR_CLASS_UNSPECIFIED {
			t.Errorf("%s has no enum value", c)
		}
		if prev, dup := seen[p]; dup {
			t.Errorf("%s and %s both map to %s", prev, c, p)
		}
		seen[p] = c
		if back := ClassFromProto(p); back != c {
			t.Errorf("%s -> %s -> %s", c, p, back)
		}
	}
	for v := range pb.ErrorClass_name {
		p := pb.ErrorClass(v)
		if p == pb.ErrorClass_ERROR_CLASS_UNSPECIFIED {
			continue
		}
		if _, ok := seen[p]; !ok {
			t.Errorf("enum %s has no errclass.Class", p)
		}
	}
	if got := ClassFromProto(pb.ErrorClass_ERROR_CLASS_UNSPECIFIED); got != errclass.Other {
		t.Errorf("UNSPECIFIED -> %s, want other", got)
	}
	if got := ClassFromProto(pb.ErrorClass(999)); got != errclass.Other || !got.Transient() {
		t.Errorf("unknown enum value -> %s, want other (transient)", got)
	}
	if got := ClassToProto("future_class"); got != pb.ErrorClass_ERROR_CLASS_OTHER {
		t.Errorf("unknown class -> %s, want OTHER", got)
	}
}

// TestLinkKindsRoundTrip checks the link kind table is a bijection between
// every linkkind.Kind and every enum value but UNSPECIFIED.
func TestLinkKindsRoundTrip(t *testing.T) {
	seen := map[pb.LinkKind]linkkind.Kind{}
	for _, k := range linkkind.All() {
		p := LinkKindToProto(k)
		if p == pb.LinkKind_LINK_KIND_UNSPECIFIED {
			t.Errorf("%s has no enum value", k)
		}
		if prev, dup := seen[p]; dup {
			t.Errorf("%s and %s both map to %s", prev, k, p)
		}
		seen[p] = k
		if back, ok := LinkKindFromProto(p); !ok || back != k {
			t.Errorf("%s -> %s -> %s, %v", k, p, back, ok)
		}
	}
	for v := range pb.LinkKind_name {
		p := pb.LinkKind(v)
		if p == pb.LinkKind_LINK_KIND_UNSPECIFIED {
			continue
		}
		if _, ok := seen[p]; !ok {
			t.Errorf("enum %s has no linkkind.Kind", p)
		}
	}
	for _, p := range []pb.LinkKind{pb.LinkKind_LINK_KIND_UNSPECIFIED, pb.LinkKind(999)} {
		if k, ok := LinkKindFromProto(p); ok {
			t.Errorf("%s -> %s, ok; want not ok", p, k)
		}
	}
	if got := LinkKindToProto(0); got != pb.LinkKind_LINK_KIND_UNSPECIFIED {
		t.Errorf("kind 0 -> %s, want UNSPECIFIED", got)
	}
}

func TestRefusalOf(t *testing.T) {
	refused := func(code codes.Code, msg string, r pb.RefusalReason) error {
		st, err := status.New(code, msg).WithDetails(&pb.Refusal{Reason: r})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	cases := []struct {
		name string
		err  error
		want pb.RefusalReason
		ok   bool
	}{
		{"draining", refused(codes.Unavailable, "anything at all", pb.RefusalReason_REFUSAL_REASON_DRAINING), pb.RefusalReason_REFUSAL_REASON_DRAINING, true},
		{"busy", refused(codes.FailedPrecondition, "", pb.RefusalReason_REFUSAL_REASON_SLOT_BUSY), pb.RefusalReason_REFUSAL_REASON_SLOT_BUSY, true},
		{"unavailable without detail", status.Error(codes.Unavailable, "assistant: draining"), 0, false},
		{"transport", status.Error(codes.Unavailable, "connection refused"), 0, false},
		{"plain error", errors.New("draining"), 0, false},
		{"nil", nil, 0, false},
	}
	for _, c := range cases {
		got, ok := RefusalOf(c.err)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: RefusalOf = %s, %v; want %s, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// The size bounds hold what the crawler can put in a message.
func TestMessageBoundsCoverTheCrawler(t *testing.T) {
	if maxURLBytes < urlnorm.MaxLength || maxURLBytes < crawl.MaxLinkLength {
		t.Errorf("maxURLBytes %d < urlnorm.MaxLength %d or crawl.MaxLinkLength %d", maxURLBytes, urlnorm.MaxLength, crawl.MaxLinkLength)
	}
	if linkBytes < crawl.MaxLinkBytes+crawl.MaxSitemapBytes {
		t.Errorf("linkBytes %d < links %d + sitemap URLs %d", linkBytes, crawl.MaxLinkBytes, crawl.MaxSitemapBytes)
	}
	// Every link costs a few bytes besides its URL (tag, length, kind).
	if perLink := (crawl.MaxSitemapURLs + 10000) * 8; slack < perLink {
		t.Errorf("slack %d < %d bytes of per-link overhead", slack, perLink)
	}
}
