package export

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"time"
)

// Writer is where export hands the stored fetches, one at a time; Close
// finishes the output. WARCWriter and JSONLWriter implement it.
type Writer interface {
	Write(r *Record) error
	Close() error
}

// JSONHeaders are the response headers a JSON line carries (lowercase
// names), when the response has them.
var JSONHeaders = []string{
	"content-type", "content-length", "etag", "last-modified",
	"server", "location", "cache-control", "x-robots-tag",
}

// JSONRecord is one line of JSONLWriter's output.
type JSONRecord struct {
	LeaseToken    int64     `json:"lease_token"`
	URL           string    `json:"url"`
	FinalURL      string    `json:"final_url"`
	Crawl         string    `json:"crawl"`
	Depth         int       `json:"depth"`
	State         string    `json:"state"`
	Class         string    `json:"class"`
	Error         string    `json:"error"`
	Status        int       `json:"status"` // 0: no response
	ContentType   string    `json:"content_type"`
	Title         string    `json:"title"`
	FetchedAt     time.Time `json:"fetched_at"`   // RFC 3339 with nanoseconds
	PersistedAt   time.Time `json:"persisted_at"` // RFC 3339 with nanoseconds
	DurationMS    int64     `json:"duration_ms"`
	Redirects     int       `json:"redirects"`
	Outlinks      int       `json:"outlinks"`
	ContentHash   string    `json:"content_hash"` // hex SHA-256, "" when no body
	BodySize      int64     `json:"body_size"`
	BodyTruncated bool      `json:"body_truncated"`
	NotModified   bool      `json:"not_modified"`
	Unchanged     bool      `json:"unchanged"`
	// Headers holds the response's JSONHeaders it has (the first value of
	// each); null when there was no response.
	Headers map[string]string `json:"headers"`
}

// NewJSONRecord returns r's JSON line.
func NewJSONRecord(r *Record) JSONRecord {
	return JSONRecord{
		LeaseToken:    r.LeaseToken,
		URL:           r.URL,
		FinalURL:      r.FinalURL,
		Crawl:         r.Crawl,
		Depth:         r.Depth,
		State:         r.State,
		Class:         r.Class,
		Error:         r.ErrorMessage,
		Status:        r.HTTPStatus,
		ContentType:   r.ContentType,
		Title:         r.Title,
		FetchedAt:     r.FetchedAt.UTC(),
		PersistedAt:   r.PersistedAt.UTC(),
		DurationMS:    r.Duration.Milliseconds(),
		Redirects:     r.Redirects,
		Outlinks:      r.Links,
		ContentHash:   hex.EncodeToString(r.ContentHash),
		BodySize:      r.BodySize,
		BodyTruncated: r.BodyTruncated,
		NotModified:   r.NotModified,
		Unchanged:     r.Unchanged,
		Headers:       responseHeaders(r.ResponseHead),
	}
}

// JSONLWriter writes one JSON object (a JSONRecord) per line.
type JSONLWriter struct {
	mu     sync.Mutex
	bw     *bufio.Writer
	enc    *json.Encoder
	closed bool
}

var _ Writer = (*JSONLWriter)(nil)

// NewJSONLWriter returns a JSONLWriter writing to w. Output is buffered:
// Close flushes it (it does not close w).
func NewJSONLWriter(w io.Writer) *JSONLWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &JSONLWriter{bw: bw, enc: enc}
}

// Write writes r's line.
func (w *JSONLWriter) Write(r *Record) error {
	if r == nil {
		return errors.New("export: nil Record")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("export: JSONLWriter is closed")
	}
	return w.enc.Encode(NewJSONRecord(r)) // Encode ends the line
}

// Close flushes the buffered lines.
func (w *JSONLWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	return w.bw.Flush()
}

// responseHeaders picks JSONHeaders out of a stored response head (status
// line, header lines, empty line). It is lenient: a stored head is capped
// and may end mid-way; lines without a colon are passed over.
func responseHeaders(head []byte) map[string]string {
	if len(head) == 0 {
		return nil
	}
	out := make(map[string]string)
	lines := bytes.Split(head, []byte("\n"))
	for _, line := range lines[1:] { // lines[0] is the status line
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // end of the head
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // obsolete line folding: a continuation
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		key := strings.ToLower(string(bytes.TrimSpace(name)))
		if _, seen := out[key]; seen || !wanted(key) {
			continue
		}
		out[key] = string(bytes.TrimSpace(value))
	}
	return out
}

func wanted(name string) bool {
	for _, h := range JSONHeaders {
		if h == name {
			return true
		}
	}
	return false
}
