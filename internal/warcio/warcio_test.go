package warcio

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func hexsum(b string) string { s := sha256.Sum256([]byte(b)); return hex.EncodeToString(s[:]) }

type rawRecord struct{ headers, block string }

func (r rawRecord) bytes() []byte {
	return fmt.Appendf(nil, "WARC/1.1\r\n%sContent-Length: %d\r\n\r\n%s\r\n\r\n", r.headers, len(r.block), r.block)
}

// records are written by hand (no WARC library), so that the reader is
// checked against bytes we know.
var (
	info = rawRecord{
		"WARC-Type: warcinfo\r\nWARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000001>\r\nWARC-Date: 2026-01-02T03:04:05Z\r\nWARC-Filename: x.warc\r\nContent-Type: application/warc-fields\r\n",
		"software: test\r\n",
	}
	respHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
	respBody = "5\r\nhello\r\n0\r\n\r\n" // chunked on the wire: raw, it is 15 bytes; decoded, "hello"
	resp     = rawRecord{
		"WARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000002>\r\nWARC-Date: 2026-01-02T03:04:05.123456Z\r\nWARC-Target-URI: http://a.test/\r\n" +
			"WARC-Concurrent-To: <urn:uuid:00000000-0000-4000-8000-000000000004>\r\nWARC-Warcinfo-ID: <urn:uuid:00000000-0000-4000-8000-000000000001>\r\n" +
			"WARC-Payload-Digest: sha256:PAYLOAD\r\nWARC-Block-Digest: sha256:BLOCK\r\nWARC-Truncated: length\r\nContent-Type: application/http;msgtype=response\r\n",
		respHead + respBody,
	}
	revisitHead = "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"
	revisit     = rawRecord{
		"WARC-Type: revisit\r\nWARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000003>\r\nWARC-Date: 2026-01-02T03:04:06Z\r\nWARC-Target-URI: http://b.test/\r\n" +
			"WARC-Profile: http://netpreserve.org/warc/1.1/revisit/server-not-modified\r\nWARC-Refers-To-Target-URI: http://b.test/\r\nWARC-Refers-To-Date: 2025-01-01T00:00:00Z\r\nContent-Type: application/http;msgtype=response\r\n",
		revisitHead,
	}
	reqHead = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"
	req     = rawRecord{
		"WARC-Type: request\r\nWARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000004>\r\nWARC-Date: 2026-01-02T03:04:05.123456Z\r\nWARC-Target-URI: http://a.test/\r\nContent-Type: application/http;msgtype=request\r\n",
		reqHead,
	}
)

func check(t *testing.T, recs []Rec, file string) {
	t.Helper()
	if len(recs) != 4 {
		t.Fatalf("%s: %d records, want 4: %+v", file, len(recs), recs)
	}
	for i, r := range recs {
		if r.File != file || r.Index != i {
			t.Errorf("record %d: file %q index %d", i, r.File, r.Index)
		}
	}
	in, rs, rv, rq := recs[0], recs[1], recs[2], recs[3]
	if in.Type != "warcinfo" || in.Filename != "x.warc" || in.Text != "software: test\r\n" || in.HasHTTP || in.BlockSHA256 != hexsum(info.block) {
		t.Errorf("warcinfo: %+v", in)
	}
	if rs.Type != "response" || rs.TargetURI != "http://a.test/" || rs.RecordID != "<urn:uuid:00000000-0000-4000-8000-000000000002>" ||
		rs.Date != "2026-01-02T03:04:05.123456Z" || rs.PayloadDigest != "sha256:PAYLOAD" || rs.BlockDigest != "sha256:BLOCK" ||
		rs.Truncated != "length" || rs.ContentType != "application/http;msgtype=response" ||
		len(rs.ConcurrentTo) != 1 || rs.ConcurrentTo[0] != "<urn:uuid:00000000-0000-4000-8000-000000000004>" ||
		rs.WarcinfoID != "<urn:uuid:00000000-0000-4000-8000-000000000001>" {
		t.Errorf("response headers: %+v", rs)
	}
	if !rs.HasHTTP || rs.HTTPStatus != 200 {
		t.Errorf("response http: %v %d", rs.HasHTTP, rs.HTTPStatus)
	}
	if rs.PayloadSHA256 != hexsum(respBody) || rs.PayloadLength != int64(len(respBody)) {
		t.Errorf("response payload %s (%d bytes), want the raw (still chunked) body %s (%d)", rs.PayloadSHA256, rs.PayloadLength, hexsum(respBody), len(respBody))
	}
	if rs.BlockSHA256 != hexsum(resp.block) || rs.BlockLength != int64(len(resp.block)) || rs.ContentLength != rs.BlockLength {
		t.Errorf("response block %s %d/%d", rs.BlockSHA256, rs.BlockLength, rs.ContentLength)
	}
	if rv.Type != "revisit" || rv.Profile != "http://netpreserve.org/warc/1.1/revisit/server-not-modified" ||
		rv.RefersToTargetURI != "http://b.test/" || rv.RefersToDate != "2025-01-01T00:00:00Z" ||
		!rv.HasHTTP || rv.HTTPStatus != 304 || rv.PayloadLength != 0 || rv.BlockSHA256 != hexsum(revisitHead) {
		t.Errorf("revisit: %+v", rv)
	}
	if rq.Type != "request" || !rq.HasHTTP || rq.HTTPStatus != 0 || rq.PayloadLength != 0 || rq.BlockSHA256 != hexsum(reqHead) {
		t.Errorf("request: %+v", rq)
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	all := []rawRecord{info, resp, revisit, req}

	plain := filepath.Join(dir, "plain.warc")
	var p bytes.Buffer
	for _, r := range all {
		p.Write(r.bytes())
	}
	os.WriteFile(plain, p.Bytes(), 0o644)

	gz := filepath.Join(dir, "members.warc.gz")
	var g bytes.Buffer
	var starts []int64
	for _, r := range all {
		starts = append(starts, int64(g.Len()))
		zw := gzip.NewWriter(&g)
		zw.Write(r.bytes())
		zw.Close()
	}
	os.WriteFile(gz, g.Bytes(), 0o644)

	recs := Read(t, plain, gz)
	if len(recs) != 8 {
		t.Fatalf("%d records, want 8", len(recs))
	}
	check(t, recs[:4], plain)
	check(t, recs[4:], gz)
	for i, r := range recs[4:] {
		if r.Offset != starts[i] {
			t.Errorf("gzip record %d at offset %d, member starts at %d", i, r.Offset, starts[i])
		}
	}
}

// TestLoadFails: a file warcio cannot read whole is an error, not fewer
// records (warcio itself stops quietly at a gzip member cut short).
func TestLoadFails(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.warc.gz")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	var g, p bytes.Buffer
	for _, r := range []rawRecord{info, resp, revisit, req} {
		zw := gzip.NewWriter(&g)
		zw.Write(r.bytes())
		zw.Close()
		p.Write(r.bytes())
	}
	for name, data := range map[string][]byte{
		"cut-first-member.warc.gz": g.Bytes()[:60],
		"cut-last-member.warc.gz":  g.Bytes()[:g.Len()-40],
		"cut-block.warc":           p.Bytes()[:p.Len()-30],
		"garbage.warc.gz":          append(g.Bytes()[:g.Len():g.Len()], "not a gzip member"...),
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, data, 0o644)
		if recs, err := Load(path); err == nil {
			t.Errorf("Load of %s succeeded: %d records", name, len(recs))
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
