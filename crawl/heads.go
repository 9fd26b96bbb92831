package crawl

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Stored-header caps: a response head keeps at most MaxStoredHeaders
// header lines and MaxStoredHeaderBytes bytes (status line included),
// taking header names in sorted order and dropping the rest. Real pages
// send 10–30 headers in well under 2 KiB; the caps bound what a hostile
// server can make every stored fetch cost (Go already refuses heads over
// MaxHeaderBytes).
const (
	MaxStoredHeaders     = 100
	MaxStoredHeaderBytes = 16 << 10
)

// requestHead renders the page request as it went on the wire: request
// line, Host, the headers set, and the Accept-Encoding the transport adds
// when it negotiates compression itself.
func (f *httpFetcher) requestHead(r *http.Request) []byte {
	if r == nil || r.URL == nil {
		return nil
	}
	uri := r.URL.RequestURI()
	b := make([]byte, 0, 160+len(uri)+len(r.URL.Host)+len(f.cfg.UserAgent))
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, r.URL.Host...)
	b = append(b, "\r\n"...)
	b = appendHeaders(b, r.Header, MaxStoredHeaders, MaxStoredHeaderBytes)
	if r.Header.Get("Accept-Encoding") == "" && r.Header.Get("Range") == "" && !f.transport.DisableCompression {
		b = append(b, "Accept-Encoding: gzip\r\n"...)
	}
	return append(b, "\r\n"...)
}

// responseHead renders a response's status line and headers, capped (see
// MaxStoredHeaders). Go's transport has removed what it consumed itself
// (Transfer-Encoding; Content-Encoding and Content-Length of a body it
// decompressed), so the head describes the body as stored.
func responseHead(resp *http.Response) []byte {
	proto, status := resp.Proto, resp.Status
	if proto == "" {
		proto = "HTTP/1.1"
	}
	if status == "" {
		status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	}
	size := len(proto) + len(status) + 5
	for k, vs := range resp.Header {
		for _, v := range vs {
			size += len(k) + len(v) + 4
		}
	}
	b := make([]byte, 0, min(size, MaxStoredHeaderBytes))
	b = append(b, proto...)
	b = append(b, ' ')
	b = append(b, status...)
	b = append(b, "\r\n"...)
	b = appendHeaders(b, resp.Header, MaxStoredHeaders, MaxStoredHeaderBytes-len(b)-2)
	return append(b, "\r\n"...)
}

// appendHeaders appends h's lines in name order, each "Name: value\r\n",
// at most maxLines of them, leaving out a line that would pass maxBytes. Line
// breaks inside values (which net/http does not produce) are replaced by
// spaces so the head stays parseable.
func appendHeaders(b []byte, h http.Header, maxLines, maxBytes int) []byte {
	var arr [32]string
	names := arr[:0]
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	lines, size := 0, 0
	for _, k := range names {
		for _, v := range h[k] {
			n := len(k) + len(v) + 4
			if lines >= maxLines {
				return b
			}
			if size+n > maxBytes {
				continue // one huge header does not cost the ones after it
			}
			lines, size = lines+1, size+n
			b = append(b, k...)
			b = append(b, ": "...)
			if strings.ContainsAny(v, "\r\n") {
				v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
			}
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	return b
}
