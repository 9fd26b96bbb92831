package crawl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"syscall"
)

// Class is a stable error class string stored in the DB and sent on the
// wire. Its values never change meaning; new classes may be added.
type Class string

// The error classes. See the package documentation for which are transient.
const (
	ClassOK                Class = "ok"                 // 2xx (also 2xx with truncated body)
	ClassHTTP4xx           Class = "http_4xx"           // permanent (except 429)
	ClassHTTP429           Class = "http_429"           // transient
	ClassHTTP5xx           Class = "http_5xx"           // transient
	ClassRobotsDisallowed  Class = "robots_disallowed"  // permanent: URL or a redirect hop disallowed by robots.txt
	ClassRobotsUnavailable Class = "robots_unavailable" // transient: robots.txt answered 5xx/429, timed out or failed at network level
	ClassTimeout           Class = "timeout"            // transient
	ClassConnRefused       Class = "conn_refused"       // transient
	ClassConnReset         Class = "conn_reset"         // transient (also unexpected EOF)
	ClassDNSNotFound       Class = "dns_not_found"      // permanent: unknown host (NXDOMAIN, or no resolver-override match)
	ClassDNSTemporary      Class = "dns_temporary"      // transient
	ClassTooManyRedirects  Class = "too_many_redirects" // permanent (redirect loops end here)
	ClassTLS               Class = "tls"                // permanent
	ClassInvalidURL        Class = "invalid_url"        // permanent
	ClassProtocol          Class = "protocol"           // transient: malformed HTTP response
	ClassCanceled          Class = "canceled"           // the caller's context was cancelled: not an outcome, caller requeues
	ClassOther             Class = "other"              // transient
)

// allClasses is the canonical order, used for metrics pre-registration.
var allClasses = []Class{
	ClassOK, ClassHTTP4xx, ClassHTTP429, ClassHTTP5xx,
	ClassRobotsDisallowed, ClassRobotsUnavailable,
	ClassTimeout, ClassConnRefused, ClassConnReset,
	ClassDNSNotFound, ClassDNSTemporary,
	ClassTooManyRedirects, ClassTLS, ClassInvalidURL, ClassProtocol,
	ClassCanceled, ClassOther,
}

// AllClasses returns every defined class in a stable order. The returned
// slice is a fresh copy that the caller may modify.
func AllClasses() []Class {
	return append([]Class(nil), allClasses...)
}

// Transient reports whether a fetch that ended in class c is worth retrying
// later. ClassCanceled is transient: the fetch did not happen, so the caller
// requeues. ClassOK and the permanent classes return false. Unknown classes
// are treated like ClassOther (transient), so a newer peer's class never
// makes us drop a URL for good.
func (c Class) Transient() bool {
	switch c {
	case ClassOK, ClassHTTP4xx, ClassRobotsDisallowed, ClassDNSNotFound,
		ClassTooManyRedirects, ClassTLS, ClassInvalidURL:
		return false
	}
	return true
}

// Valid reports whether c is one of the defined classes.
func (c Class) Valid() bool {
	switch c {
	case ClassOK, ClassHTTP4xx, ClassHTTP429, ClassHTTP5xx,
		ClassRobotsDisallowed, ClassRobotsUnavailable,
		ClassTimeout, ClassConnRefused, ClassConnReset,
		ClassDNSNotFound, ClassDNSTemporary,
		ClassTooManyRedirects, ClassTLS, ClassInvalidURL, ClassProtocol,
		ClassCanceled, ClassOther:
		return true
	}
	return false
}

// ParseClass converts a stored string back to a Class. Unknown strings
// (including "") map to ClassOther so old rows and newer peers degrade to
// "transient, retry later" rather than failing.
func ParseClass(s string) Class {
	if c := Class(s); c.Valid() {
		return c
	}
	return ClassOther
}

// ClassForStatus maps a final HTTP status code to its class. Codes outside
// 200..599 (1xx, or 3xx that was not followed, e.g. without Location) are
// ClassOther.
func ClassForStatus(status int) Class {
	switch {
	case status >= 200 && status < 300:
		return ClassOK
	case status == 429:
		return ClassHTTP429
	case status >= 400 && status < 500:
		return ClassHTTP4xx
	case status >= 500 && status < 600:
		return ClassHTTP5xx
	}
	return ClassOther
}

// classedError carries a class decided by this package (robots verdicts,
// redirect policy, resolver override) through net/http's error wrapping, so
// Classify does not have to guess from strings.
type classedError struct {
	class  Class
	target string // URL the fetch stopped at (redirect hop), "" if n/a
	err    error
}

func (e *classedError) Error() string { return e.err.Error() }
func (e *classedError) Unwrap() error { return e.err }

var (
	errFetchTimeout    = errors.New("fetch timeout exceeded")
	errRobotsTimeout   = errors.New("robots.txt timeout exceeded")
	errTooManyRedirect = errors.New("too many redirects")
)

// Classify maps an error from net/http, net/url, net (dial, DNS), crypto/tls
// or context to a Class. nil maps to ClassOK; errors it does not recognise
// map to ClassOther. It never panics.
//
// Classify looks only at the error: context.Canceled is ClassCanceled and
// context.DeadlineExceeded is ClassTimeout. The fetchers refine this with
// the contexts they hold (a caller's expired deadline is ClassCanceled).
func Classify(err error) Class {
	if err == nil {
		return ClassOK
	}
	var ce *classedError
	if errors.As(err, &ce) {
		return ce.class
	}
	if errors.Is(err, context.Canceled) {
		return ClassCanceled
	}
	if errors.Is(err, errFetchTimeout) || errors.Is(err, errRobotsTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return ClassTimeout
	}
	// DNS before the generic timeout check: a resolver timeout is a DNS
	// problem (transient), not a slow server.
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			return ClassDNSNotFound
		}
		return ClassDNSTemporary
	}
	var addrErr *net.AddrError
	if errors.As(err, &addrErr) {
		return ClassInvalidURL
	}
	if isTLSError(err) {
		return ClassTLS
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassConnRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return ClassConnReset
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return ClassTimeout
	}
	var escErr url.EscapeError
	var hostErr url.InvalidHostError
	var urlErr *url.Error
	if errors.As(err, &escErr) || errors.As(err, &hostErr) ||
		(errors.As(err, &urlErr) && urlErr.Op == "parse") {
		return ClassInvalidURL
	}
	var protoErr *textproto.ProtocolError
	if errors.As(err, &protoErr) {
		return ClassProtocol
	}
	// net/http reports most of these with unexported error types, so the
	// message is all there is. These strings have been stable for years.
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unsupported protocol scheme"),
		strings.Contains(msg, "no Host in request URL"),
		strings.Contains(msg, "failed to parse Location header"),
		strings.Contains(msg, "invalid URL"):
		return ClassInvalidURL
	case strings.Contains(msg, "malformed HTTP"),
		strings.Contains(msg, "malformed MIME header"),
		strings.Contains(msg, "invalid byte in chunk length"),
		strings.Contains(msg, "chunked encoding"),
		strings.Contains(msg, "Content-Length"),
		strings.Contains(msg, "Transfer-Encoding"),
		strings.Contains(msg, "gzip: invalid header"),
		strings.Contains(msg, "flate: corrupt input"),
		strings.Contains(msg, "http2: "),
		strings.Contains(msg, "stream error"),
		strings.Contains(msg, "too many transfer encodings"):
		return ClassProtocol
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"),
		strings.Contains(msg, "server closed idle connection"):
		return ClassConnReset
	case strings.Contains(msg, "connection refused"):
		return ClassConnRefused
	}
	return ClassOther
}

func isTLSError(err error) bool {
	var (
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
		verifyErr   *tls.CertificateVerificationError
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
		echErr      *tls.ECHRejectionError
		rootsErr    x509.SystemRootsError
	)
	if errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalidErr) ||
		errors.As(err, &verifyErr) || errors.As(err, &recordErr) || errors.As(err, &alertErr) ||
		errors.As(err, &echErr) || errors.As(err, &rootsErr) {
		return true
	}
	// Handshake failures ("remote error: tls: handshake failure", "tls:
	// first record does not look like a TLS handshake") use unexported types.
	msg := err.Error()
	return strings.Contains(msg, "tls: ") || strings.Contains(msg, "x509: ")
}
