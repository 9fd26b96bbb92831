package export

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/warcio"
)

// fetchCase is one Record and what its WARC records must look like.
type fetchCase struct {
	name string
	rec  *Record
	// primary is the WARC-Type written for the response: "response",
	// "revisit", or "" when the fetch is skipped.
	primary   string
	request   bool   // a request record follows
	truncated bool   // WARC-Truncated: length on the primary record
	profile   string // revisit profile
}

var base = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func gzipped(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func reqHead(host, path string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: crawlmaster-test/1\r\nAccept-Encoding: gzip\r\n\r\n")
}

func sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// fetchCases returns the fetches the WARC and JSONL tests write: their
// bodies are random (incompressible) so that a small maximum file size
// makes the writer rotate.
func fetchCases(t testing.TB) []fetchCase {
	htmlBody := append([]byte("<html><head><title>A</title></head><body>\r\n\r\nHTTP/1.1 200 OK\r\n"), randBytes(1, 3000)...)
	capped := randBytes(2, 4096)
	short := randBytes(3, 1000)
	prev := randBytes(4, 2500) // the body a 304 confirmed
	same := randBytes(5, 1800)
	zipped := gzipped(t, append([]byte("<html>gzip"), randBytes(6, 1500)...))
	chunkish := []byte("5\r\nhello\r\n0\r\n\r\n") // looks chunked; the head does not say so
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	rec := func(i int, r Record) *Record {
		r.LeaseToken = int64(1000 + i)
		r.Crawl = "warc-test"
		r.FetchedAt = at(i)
		r.PersistedAt = at(i).Add(1500 * time.Microsecond)
		r.Duration = time.Duration(10+i) * time.Millisecond
		r.State = "done"
		r.Class = "ok"
		return &r
	}
	return []fetchCase{
		{name: "200 with body, redirected", primary: "response", request: true, rec: rec(0, Record{
			URL: "http://a.test/", FinalURL: "https://a.test/home", Redirects: 1, Links: 12, Title: "A",
			HTTPStatus: 200, ContentType: "text/html",
			ContentHash: sum(htmlBody), BodySize: int64(len(htmlBody)), Body: htmlBody,
			RequestHead:  reqHead("a.test", "/home"),
			ResponseHead: fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nETag: \"abc\"\r\nCache-Control: max-age=60\r\nCache-Control: public\r\nServer: test\r\nX-Other: 1\r\n\r\n", len(htmlBody)),
		})},
		{name: "truncated at the body cap", primary: "response", request: true, truncated: true, rec: rec(1, Record{
			URL: "http://b.test/big", FinalURL: "http://b.test/big", HTTPStatus: 200, ContentType: "application/octet-stream",
			ContentHash: sum(capped), BodySize: int64(len(capped)), BodyTruncated: true, Body: capped,
			RequestHead:  reqHead("b.test", "/big"),
			ResponseHead: []byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 999999\r\n\r\n"),
		})},
		{name: "stored body shorter than read", primary: "response", request: true, truncated: true, rec: rec(2, Record{
			URL: "http://c.test/", FinalURL: "http://c.test/", HTTPStatus: 200, ContentType: "text/plain",
			ContentHash: sum(randBytes(33, 5000)), BodySize: 5000, Body: short,
			RequestHead:  reqHead("c.test", "/"),
			ResponseHead: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\n\r\n"),
		})},
		{name: "failed, no response", rec: rec(3, Record{
			URL: "http://nxdomain.test/", State: "failed", Class: "conn_reset", ErrorMessage: "read: connection reset by peer",
			RequestHead: reqHead("nxdomain.test", "/"), // sent, but no response came
		})},
		{name: "304 not modified", primary: "revisit", request: true, profile: ProfileServerNotModified, rec: rec(4, Record{
			URL: "http://d.test/", FinalURL: "http://d.test/", HTTPStatus: 304, NotModified: true, Unchanged: true,
			ContentHash: sum(prev), BodySize: int64(len(prev)), RefersTo: base.Add(-24 * time.Hour),
			RequestHead:  []byte("GET / HTTP/1.1\r\nHost: d.test\r\nIf-None-Match: \"v1\"\r\n\r\n"),
			ResponseHead: []byte("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n"),
		})},
		{name: "200 unchanged, identical digest", primary: "revisit", request: true, profile: ProfileIdenticalPayloadDigest, rec: rec(5, Record{
			URL: "http://e.test/", FinalURL: "http://e.test/", HTTPStatus: 200, ContentType: "text/html", Unchanged: true,
			ContentHash: sum(same), BodySize: int64(len(same)), Body: same, RefersTo: base.Add(-48 * time.Hour),
			RequestHead:  reqHead("e.test", "/"),
			ResponseHead: fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n", len(same)),
		})},
		{name: "robots disallowed, nothing sent", rec: rec(6, Record{
			URL: "http://f.test/private", State: "dead", Class: "robots",
		})},
		{name: "404 with head, no body", primary: "response", request: true, rec: rec(7, Record{
			URL: "http://g.test/missing", FinalURL: "http://g.test/missing", HTTPStatus: 404, State: "dead", Class: "http_4xx",
			ContentType:  "text/html",
			RequestHead:  reqHead("g.test", "/missing"),
			ResponseHead: []byte("HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n"),
		})},
		{name: "response without a stored request", primary: "response", rec: rec(8, Record{
			URL: "http://h.test/", FinalURL: "http://h.test/", HTTPStatus: 200, ContentType: "text/plain",
			ContentHash: sum(chunkish), BodySize: int64(len(chunkish)), Body: chunkish,
			ResponseHead: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"),
		})},
		{name: "gzip body kept encoded", primary: "response", request: true, rec: rec(9, Record{
			URL: "http://i.test/z", FinalURL: "http://i.test/z", HTTPStatus: 200, ContentType: "text/html",
			ContentHash: sum(zipped), BodySize: int64(len(zipped)), Body: zipped,
			RequestHead:  reqHead("i.test", "/z"),
			ResponseHead: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nX-Robots-Tag: noarchive\r\n\r\n"),
		})},
		{name: "404, body read but not stored", primary: "response", request: true, truncated: true, rec: rec(10, Record{
			URL: "http://j.test/gone", FinalURL: "http://j.test/gone", HTTPStatus: 404, State: "dead", Class: "http_4xx",
			ContentHash: sum([]byte("not found page")), BodySize: 14,
			RequestHead:  reqHead("j.test", "/gone"),
			ResponseHead: []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 14\r\n\r\n"),
		})},
		{name: "unchanged 200 without a content hash", primary: "response", request: true, rec: rec(11, Record{
			URL: "http://k.test/", FinalURL: "http://k.test/", HTTPStatus: 200, ContentType: "text/plain", Unchanged: true,
			BodySize: int64(len(same)), Body: same, RefersTo: base.Add(-time.Hour),
			RequestHead:  reqHead("k.test", "/"),
			ResponseHead: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"),
		})},
		// Its first fetch's response record holds the cut body, whose
		// digest is not the ContentHash: a revisit by digest would point
		// at nothing, so it is a response with its own (cut) body.
		{name: "unchanged 200, stored body cut", primary: "response", request: true, truncated: true, rec: rec(12, Record{
			URL: "http://l.test/", FinalURL: "http://l.test/", HTTPStatus: 200, ContentType: "text/plain", Unchanged: true,
			ContentHash: sum(same), BodySize: int64(len(same)), Body: same[:len(same)/2], RefersTo: base.Add(-time.Hour),
			RequestHead:  reqHead("l.test", "/"),
			ResponseHead: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"),
		})},
	}
}

func writeWARC(t *testing.T, dir string, maxSize int64, cases []fetchCase) *WARCWriter {
	t.Helper()
	w, err := NewWARCWriter(dir, "crawltest", maxSize, WARCInfo{
		Crawl: "warc-test", SoftwareVersion: "1.2.3", Operator: "ops@example.test",
		Fields: [][2]string{{"x-export-note", "test run"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if err := w.Write(c.rec); err != nil {
			t.Fatalf("%s: Write: %v", c.name, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return w
}

// decodeDigest returns the bytes of a "sha256:<base32>" header value.
func decodeDigest(t *testing.T, v string) []byte {
	t.Helper()
	alg, val, ok := strings.Cut(v, ":")
	if !ok || alg != "sha256" {
		t.Fatalf("digest %q: want sha256:<base32>", v)
	}
	enc := base32.StdEncoding
	if !strings.HasSuffix(val, "=") {
		enc = enc.WithPadding(base32.NoPadding)
	}
	b, err := enc.DecodeString(val)
	if err != nil {
		t.Fatalf("digest %q: %v", v, err)
	}
	return b
}

// gzipMembers splits a .gz file into its members: each one's start offset
// and decompressed bytes.
func gzipMembers(t *testing.T, path string) (starts []int64, members [][]byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	br := bytes.NewReader(data) // an io.ByteReader: gzip reads no further than each member's end
	var zr *gzip.Reader
	for br.Len() > 0 {
		start := int64(len(data) - br.Len())
		if zr == nil {
			zr, err = gzip.NewReader(br)
		} else {
			err = zr.Reset(br)
		}
		if err != nil {
			t.Fatalf("%s: gzip member at %d: %v", path, start, err)
		}
		zr.Multistream(false)
		m, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: gzip member at %d: %v", path, start, err)
		}
		starts = append(starts, start)
		members = append(members, m)
	}
	return starts, members
}

var fileNameRE = regexp.MustCompile(`^crawltest-(\d{14})-(\d{5})\.warc\.gz$`)

func TestWARCWriter(t *testing.T) {
	dir := t.TempDir()
	cases := fetchCases(t)
	w := writeWARC(t, dir, 3000, cases)

	// Files: named by pattern, serials from 00000, all complete.
	files := w.Files()
	if len(files) < 3 {
		t.Fatalf("%d files, want rotation into >= 3: %v", len(files), files)
	}
	for i, f := range files {
		m := fileNameRE.FindStringSubmatch(filepath.Base(f))
		if m == nil || filepath.Dir(f) != dir {
			t.Errorf("file %s: want %s/crawltest-<YYYYMMDDhhmmss>-<nnnnn>.warc.gz", f, dir)
			continue
		}
		if _, err := time.Parse("20060102150405", m[1]); err != nil {
			t.Errorf("file %s: timestamp: %v", f, err)
		}
		if want := fmt.Sprintf("%05d", i); m[2] != want {
			t.Errorf("file %s: serial %s, want %s", f, m[2], want)
		}
	}
	entries, _ := os.ReadDir(dir)
	var onDisk []string
	for _, e := range entries {
		onDisk = append(onDisk, filepath.Join(dir, e.Name()))
		if strings.HasSuffix(e.Name(), ".open") {
			t.Errorf("%s left behind", e.Name())
		}
	}
	if !slices.Equal(onDisk, files) { // ReadDir sorts; serials sort the same way
		t.Errorf("directory holds %v, Files() %v", onDisk, files)
	}

	recs := warcio.Read(t, files...)

	// One gzip member per record, each starting where warcio found it.
	byFile := map[string][]warcio.Rec{}
	for _, r := range recs {
		byFile[r.File] = append(byFile[r.File], r)
	}
	for _, f := range files {
		starts, members := gzipMembers(t, f)
		rs := byFile[f]
		if len(members) != len(rs) {
			t.Errorf("%s: %d gzip members, %d records", f, len(members), len(rs))
			continue
		}
		for i, m := range members {
			if !bytes.HasPrefix(m, []byte("WARC/1.1\r\n")) || !bytes.HasSuffix(m, []byte("\r\n\r\n")) || bytes.Count(m, []byte("WARC/1.1\r\nWARC-")) != 1 {
				t.Errorf("%s: member %d is not exactly one WARC/1.1 record", f, i)
			}
			if rs[i].Offset != starts[i] {
				t.Errorf("%s: record %d at offset %d, gzip member at %d", f, i, rs[i].Offset, starts[i])
			}
		}
	}

	// warcinfo first in each file, once, with our fields; every other
	// record names it.
	for _, f := range files {
		rs := byFile[f]
		if len(rs) < 2 || rs[0].Type != "warcinfo" {
			t.Errorf("%s: does not start with warcinfo followed by records", f)
			continue
		}
		info := rs[0]
		if info.Filename != filepath.Base(f) {
			t.Errorf("%s: WARC-Filename %q", f, info.Filename)
		}
		for _, line := range []string{"software: crawlmaster/1.2.3\r\n", "format: WARC File Format 1.1\r\n", "isPartOf: warc-test\r\n", "operator: ops@example.test\r\n", "x-export-note: test run\r\n"} {
			if !strings.Contains(info.Text, line) {
				t.Errorf("%s: warcinfo lacks %q:\n%s", f, line, info.Text)
			}
		}
		for _, r := range rs[1:] {
			if r.Type == "warcinfo" {
				t.Errorf("%s: second warcinfo at %d", f, r.Index)
			}
			if r.WarcinfoID != info.RecordID {
				t.Errorf("%s: record %d WARC-Warcinfo-ID %q, want %q", f, r.Index, r.WarcinfoID, info.RecordID)
			}
		}
	}

	// Every record: a unique urn:uuid id, Content-Length the block's
	// length, WARC-Block-Digest the block's SHA-256.
	ids := map[string]bool{}
	idRE := regexp.MustCompile(`^<urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}>$`)
	for _, r := range recs {
		if !idRE.MatchString(r.RecordID) || ids[r.RecordID] {
			t.Errorf("%s #%d: record id %q not a fresh <urn:uuid:...>", r.File, r.Index, r.RecordID)
		}
		ids[r.RecordID] = true
		if r.ContentLength != r.BlockLength {
			t.Errorf("%s #%d: Content-Length %d, block %d bytes", r.File, r.Index, r.ContentLength, r.BlockLength)
		}
		if got := hex.EncodeToString(decodeDigest(t, r.BlockDigest)); got != r.BlockSHA256 {
			t.Errorf("%s #%d: WARC-Block-Digest %s, block sha256 %s", r.File, r.Index, got, r.BlockSHA256)
		}
	}

	// The fetches, in order: response or revisit, then request.
	var i int
	next := func() *warcio.Rec {
		for i < len(recs) && recs[i].Type == "warcinfo" {
			i++
		}
		if i == len(recs) {
			return nil
		}
		i++
		return &recs[i-1]
	}
	counts := map[string]int64{}
	for _, r := range recs {
		counts[r.Type]++
	}
	var wantResp, wantRevisit, wantReq, wantSkipped int64
	for _, c := range cases {
		r := c.rec
		if c.primary == "" {
			wantSkipped++
			continue
		}
		uri := r.FinalURL
		p := next()
		if p == nil {
			t.Fatalf("%s: no record left", c.name)
		}
		if p.Type != c.primary || p.TargetURI != uri {
			t.Fatalf("%s: got %s %s, want %s %s", c.name, p.Type, p.TargetURI, c.primary, uri)
		}
		if d, err := time.Parse(time.RFC3339Nano, p.Date); err != nil || !d.Equal(r.FetchedAt.Truncate(time.Microsecond)) {
			t.Errorf("%s: WARC-Date %q, want %s", c.name, p.Date, r.FetchedAt)
		}
		if p.ContentType != "application/http;msgtype=response" || !p.HasHTTP || p.HTTPStatus != r.HTTPStatus {
			t.Errorf("%s: content type %q, http %v status %d; want an HTTP response block, status %d", c.name, p.ContentType, p.HasHTTP, p.HTTPStatus, r.HTTPStatus)
		}
		if want := map[bool]string{true: "length"}[c.truncated]; p.Truncated != want {
			t.Errorf("%s: WARC-Truncated %q, want %q", c.name, p.Truncated, want)
		}
		switch c.primary {
		case "response":
			wantResp++
			if want := hex.EncodeToString(sum(r.Body)); p.PayloadSHA256 != want || p.PayloadLength != int64(len(r.Body)) {
				t.Errorf("%s: payload sha256 %s (%d bytes), want the stored body's %s (%d bytes)", c.name, p.PayloadSHA256, p.PayloadLength, want, len(r.Body))
			}
			if !bytes.Equal(decodeDigest(t, p.PayloadDigest), sum(r.Body)) {
				t.Errorf("%s: WARC-Payload-Digest %s is not the stored body's", c.name, p.PayloadDigest)
			}
			if p.BlockLength != int64(len(r.ResponseHead)+len(r.Body)) {
				t.Errorf("%s: block of %d bytes, want head+body %d", c.name, p.BlockLength, len(r.ResponseHead)+len(r.Body))
			}
		case "revisit":
			wantRevisit++
			if p.Profile != c.profile {
				t.Errorf("%s: WARC-Profile %q, want %q", c.name, p.Profile, c.profile)
			}
			if p.PayloadLength != 0 || p.BlockLength != int64(len(r.ResponseHead)) || p.BlockSHA256 != hex.EncodeToString(sum(r.ResponseHead)) {
				t.Errorf("%s: revisit block of %d bytes (payload %d), want the response head alone (%d)", c.name, p.BlockLength, p.PayloadLength, len(r.ResponseHead))
			}
			switch {
			case r.NotModified && p.PayloadDigest != "":
				t.Errorf("%s: a 304's revisit carries WARC-Payload-Digest %s (it refers by URI and date)", c.name, p.PayloadDigest)
			case !r.NotModified && !bytes.Equal(decodeDigest(t, p.PayloadDigest), r.ContentHash):
				t.Errorf("%s: WARC-Payload-Digest %s is not the ContentHash", c.name, p.PayloadDigest)
			}
			if p.RefersToTargetURI != uri {
				t.Errorf("%s: WARC-Refers-To-Target-URI %q, want %q", c.name, p.RefersToTargetURI, uri)
			}
			if d, err := time.Parse(time.RFC3339Nano, p.RefersToDate); err != nil || !d.Equal(r.RefersTo) {
				t.Errorf("%s: WARC-Refers-To-Date %q, want %s", c.name, p.RefersToDate, r.RefersTo)
			}
		}
		if !c.request {
			if len(p.ConcurrentTo) != 0 {
				t.Errorf("%s: WARC-Concurrent-To %v without a request record", c.name, p.ConcurrentTo)
			}
			continue
		}
		wantReq++
		q := next()
		if q == nil || q.Type != "request" || q.TargetURI != uri || q.File != p.File || q.Date != p.Date {
			t.Fatalf("%s: record after the %s: %+v, want its request in the same file", c.name, c.primary, q)
		}
		if q.ContentType != "application/http;msgtype=request" || q.BlockSHA256 != hex.EncodeToString(sum(r.RequestHead)) || q.PayloadLength != 0 || q.Truncated != "" {
			t.Errorf("%s: request record %+v: want the request head as block", c.name, q)
		}
		if !slices.Equal(p.ConcurrentTo, []string{q.RecordID}) || !slices.Equal(q.ConcurrentTo, []string{p.RecordID}) {
			t.Errorf("%s: WARC-Concurrent-To %v / %v, want each other's id %s / %s", c.name, p.ConcurrentTo, q.ConcurrentTo, q.RecordID, p.RecordID)
		}
	}
	if p := next(); p != nil {
		t.Errorf("extra record %+v", p)
	}

	want := WARCStats{Warcinfo: int64(len(files)), Request: wantReq, Response: wantResp, Revisit: wantRevisit, Skipped: wantSkipped}
	if got := w.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if counts["warcinfo"] != want.Warcinfo || counts["request"] != want.Request || counts["response"] != want.Response || counts["revisit"] != want.Revisit || len(counts) != 4 {
		t.Errorf("records read by type %v, want %+v", counts, want)
	}
	if wantSkipped != 2 || wantRevisit != 2 || wantResp != 9 {
		t.Fatalf("the cases changed: %d skipped, %d revisits, %d responses", wantSkipped, wantRevisit, wantResp)
	}

	if err := w.Write(cases[0].rec); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestWARCWriterOneFile: with the default size everything goes in one file.
func TestWARCWriterOneFile(t *testing.T) {
	dir := t.TempDir()
	w := writeWARC(t, dir, 0, fetchCases(t))
	if w.maxFileSize != DefaultMaxFileSize {
		t.Errorf("maxFileSize %d, want DefaultMaxFileSize", w.maxFileSize)
	}
	files := w.Files()
	if len(files) != 1 {
		t.Fatalf("files %v, want one", files)
	}
	recs := warcio.Read(t, files...)
	st := w.Stats()
	if int64(len(recs)) != st.Warcinfo+st.Request+st.Response+st.Revisit || st.Warcinfo != 1 {
		t.Errorf("%d records read, stats %+v", len(recs), st)
	}
}

// TestWARCWriterNothingToWrite: only fetches without a response: no file.
func TestWARCWriterNothingToWrite(t *testing.T) {
	dir := t.TempDir()
	var cases []fetchCase
	for _, c := range fetchCases(t) {
		if c.primary == "" {
			cases = append(cases, c)
		}
	}
	w := writeWARC(t, dir, 0, cases)
	if files := w.Files(); len(files) != 0 {
		t.Errorf("files %v, want none", files)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("directory holds %v", entries)
	}
	if st := w.Stats(); st != (WARCStats{Skipped: int64(len(cases))}) {
		t.Errorf("Stats() = %+v", st)
	}
}

// TestWARCWriterSameSecond: a second export into the same directory with
// the same prefix (same second, same serials) must not replace the first
// one's files.
func TestWARCWriterSameSecond(t *testing.T) {
	dir := t.TempDir()
	cases := fetchCases(t)
	w1 := writeWARC(t, dir, 3000, cases)
	w2 := writeWARC(t, dir, 3000, cases)
	f1, f2 := w1.Files(), w2.Files()
	all := append(slices.Clone(f1), f2...)
	slices.Sort(all)
	if len(slices.Compact(all)) != len(f1)+len(f2) {
		t.Fatalf("file names reused: %v and %v", f1, f2)
	}
	recs := warcio.Read(t, all...)
	st1, st2 := w1.Stats(), w2.Stats()
	if n := st1.Warcinfo + st1.Request + st1.Response + st1.Revisit + st2.Warcinfo + st2.Request + st2.Response + st2.Revisit; int64(len(recs)) != n {
		t.Errorf("%d records read, %d written", len(recs), n)
	}
}

// TestWARCWriterInvalidRecord: a record refused writes nothing and leaves
// the writer usable.
func TestWARCWriterInvalidRecord(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWARCWriter(dir, "bad", 0, WARCInfo{})
	if err != nil {
		t.Fatal(err)
	}
	cases := fetchCases(t)
	bad := *cases[0].rec
	bad.URL, bad.FinalURL = "", ""
	if err := w.Write(&bad); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("Write without URL: %v, want ErrInvalidRecord", err)
	}
	bad = *cases[4].rec // revisit
	bad.ContentHash = []byte{1, 2, 3}
	if err := w.Write(&bad); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("Write with a 3-byte content hash: %v, want ErrInvalidRecord", err)
	}
	if err := w.Write(cases[0].rec); err != nil {
		t.Fatalf("Write after a refused record: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs := warcio.Read(t, w.Files()...)
	if len(recs) != 3 || w.Stats().Invalid != 2 {
		t.Errorf("%d records, stats %+v; want warcinfo, response, request and 2 invalid", len(recs), w.Stats())
	}
}

func TestNewWARCWriterErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	for _, c := range []struct {
		dir, prefix string
		info        WARCInfo
	}{
		{dir, "", WARCInfo{}},
		{dir, "a/b", WARCInfo{}},
		{filepath.Join(dir, "missing"), "p", WARCInfo{}},
		{file, "p", WARCInfo{}},
		{dir, "p", WARCInfo{Description: "two\nlines"}},
		{dir, "p", WARCInfo{Fields: [][2]string{{"bad name", "v"}}}},
	} {
		if _, err := NewWARCWriter(c.dir, c.prefix, 0, c.info); err == nil {
			t.Errorf("NewWARCWriter(%q, %q, %+v) succeeded", c.dir, c.prefix, c.info)
		}
	}
}

func TestTerminateHead(t *testing.T) {
	for in, want := range map[string]string{
		"HTTP/1.1 200 OK\r\nA: b\r\n\r\n": "HTTP/1.1 200 OK\r\nA: b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\r\n":     "HTTP/1.1 200 OK\r\nA: b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b":         "HTTP/1.1 200 OK\r\nA: b\r\n\r\n",
		"HTTP/1.1 200 OK\nA: b\n":         "HTTP/1.1 200 OK\nA: b\n\n",
		"HTTP/1.1 200 OK\nA: b\n\n":       "HTTP/1.1 200 OK\nA: b\n\n",
	} {
		if got := string(terminateHead([]byte(in))); got != want {
			t.Errorf("terminateHead(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWARCWriterIOError: after an I/O error every call returns it and the
// file being written is not passed off as complete.
func TestWARCWriterIOError(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWARCWriter(dir, "ioerr", 0, WARCInfo{})
	if err != nil {
		t.Fatal(err)
	}
	cases := fetchCases(t)
	if err := w.Write(cases[0].rec); err != nil {
		t.Fatal(err)
	}
	open, _ := filepath.Glob(filepath.Join(dir, "*.open"))
	if len(open) != 1 {
		t.Fatalf("open files %v, want one", open)
	}
	os.Remove(open[0]) // the writer can no longer complete it
	err = w.Write(cases[1].rec)
	if err == nil || errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("Write after the file vanished: %v, want an I/O error", err)
	}
	if err2 := w.Write(cases[2].rec); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("next Write: %v, want the first error again", err2)
	}
	if err2 := w.Close(); err2 == nil {
		t.Error("Close after an I/O error returned nil")
	}
	if files := w.Files(); len(files) != 0 {
		t.Errorf("Files() = %v after the only file failed", files)
	}
	if done, _ := filepath.Glob(filepath.Join(dir, "*.warc.gz")); len(done) != 0 {
		t.Errorf("complete-looking files %v", done)
	}
}
