package crawl

import (
	"net/http"
	"slices"
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
	var b strings.Builder
	b.Grow(256)
	b.WriteString(r.Method)
	b.WriteByte(' ')
	b.WriteString(r.URL.RequestURI())
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(r.URL.Host)
	b.WriteString("\r\n")
	writeHeaders(&b, r.Header, MaxStoredHeaders, MaxStoredHeaderBytes)
	if r.Header.Get("Accept-Encoding") == "" && r.Header.Get("Range") == "" && !f.transport.DisableCompression {
		b.WriteString("Accept-Encoding: gzip\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// responseHead renders a response's status line and headers, capped (see
// MaxStoredHeaders). Go's transport has removed what it consumed itself
// (Transfer-Encoding; Content-Encoding and Content-Length of a body it
// decompressed), so the head describes the body as stored.
func responseHead(resp *http.Response) []byte {
	var b strings.Builder
	b.Grow(512)
	proto := resp.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	b.WriteString(proto)
	b.WriteByte(' ')
	status := resp.Status
	if status == "" {
		status = http.StatusText(resp.StatusCode)
	}
	b.WriteString(status)
	b.WriteString("\r\n")
	writeHeaders(&b, resp.Header, MaxStoredHeaders, MaxStoredHeaderBytes-b.Len()-2)
	b.WriteString("\r\n")
	return []byte(b.String())
}

// writeHeaders writes h's lines in name order, each "Name: value\r\n",
// stopping before the line that would pass maxLines or maxBytes. Line
// breaks inside values (which net/http does not produce) are replaced by
// spaces so the head stays parseable.
func writeHeaders(b *strings.Builder, h http.Header, maxLines, maxBytes int) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	lines, size := 0, 0
	for _, k := range names {
		for _, v := range h[k] {
			n := len(k) + len(v) + 4
			if lines >= maxLines || size+n > maxBytes {
				return
			}
			lines, size = lines+1, size+n
			b.WriteString(k)
			b.WriteString(": ")
			if strings.ContainsAny(v, "\r\n") {
				v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
			}
			b.WriteString(v)
			b.WriteString("\r\n")
		}
	}
}
