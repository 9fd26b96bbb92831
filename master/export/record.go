package export

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Record is one stored fetch (one results row) as export reads it: its
// metadata, the request and response heads as sent and received, and the
// stored body.
type Record struct {
	// Cursor is the record's position: resume after it to get the
	// records that follow.
	Cursor Cursor
	// LeaseToken identifies the fetch (the results row's key).
	LeaseToken int64
	Crawl      string // the crawl's name
	URL        string // as requested
	FinalURL   string // after the redirects followed
	Depth      int
	// State is the URL's state after this fetch: done, failed or dead.
	State string
	// Class is the outcome class (crawl/errclass name: ok, http_4xx, ...).
	Class        string
	ErrorMessage string
	HTTPStatus   int // 0 when no response was received
	ContentType  string
	Title        string
	FetchedAt    time.Time
	PersistedAt  time.Time
	Duration     time.Duration
	Redirects    int
	Links        int // outlinks the page yielded
	// ContentHash is the SHA-256 of the body as read (capped); nil when
	// there was no body. For a 304 it is the hash of the body the server
	// confirmed unchanged.
	ContentHash []byte
	// BodySize is the length of the body as read (capped at the fetch
	// body cap); BodyTruncated says the response's body was longer.
	BodySize      int64
	BodyTruncated bool
	// Body is the stored body: nil when none was stored (not a success,
	// noindex, a 304, or a master that stores no bodies). It can be
	// shorter than BodySize when the master's body cap is smaller than
	// the fetch's.
	Body []byte
	// NotModified: the server answered 304 to a conditional request.
	NotModified bool
	// Unchanged: the content is the same as at the URL's previous
	// successful fetch (a 304, or a 200 with the same content hash).
	Unchanged bool
	// RefersTo is the time of the previous fetch whose content this one
	// repeats; zero unless Unchanged.
	RefersTo time.Time
	// RequestHead is the request as sent: request line and headers in
	// HTTP/1.1 wire form ending in an empty line; nil when no request was
	// sent. ResponseHead is the response's status line and headers (the
	// stored ones: capped, see crawl.MaxStoredHeaders) in the same form;
	// nil when no response was received.
	RequestHead  []byte
	ResponseHead []byte
}

// Cursor is a position in the stream of stored fetches: results come in
// the order their transactions became visible, (XID, LeaseToken). A
// reader that resumes after a Cursor gets every fetch persisted after it
// exactly once, whatever the order concurrent writes committed in (see
// store.ResultsAfter). The zero Cursor is the start.
type Cursor struct {
	XID   uint64 // the writing transaction's id (pg xid8)
	Token int64  // the fetch's lease token
}

// String is the cursor as the export command prints it and the API
// returns it: "<xid>.<token>". ParseCursor reads it back.
func (c Cursor) String() string {
	return strconv.FormatUint(c.XID, 10) + "." + strconv.FormatInt(c.Token, 10)
}

// ParseCursor reads a Cursor written by String; "" is the zero Cursor.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	x, t, ok := strings.Cut(s, ".")
	xid, err1 := strconv.ParseUint(x, 10, 64)
	tok, err2 := strconv.ParseInt(t, 10, 64)
	if !ok || err1 != nil || err2 != nil || tok < 0 {
		return Cursor{}, fmt.Errorf("cursor %q: want <xid>.<token> as printed by export, e.g. 7712.40317", s)
	}
	return Cursor{XID: xid, Token: tok}, nil
}

// After reports whether c comes after d in stream order.
func (c Cursor) After(d Cursor) bool {
	return c.XID > d.XID || (c.XID == d.XID && c.Token > d.Token)
}
