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

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
	"github.com/crawlmaster/crawlmaster/crawl/netguard"
)

// classedError carries a class decided by this package (robots verdicts,
// redirect policy, resolver override) through net/http's error wrapping, so
// Classify does not have to guess from strings.
type classedError struct {
	class  errclass.Class
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
// or context to a Class. nil maps to errclass.OK; errors it does not recognise
// map to errclass.Other. It never panics.
//
// Classify looks only at the error: context.Canceled is errclass.Canceled and
// context.DeadlineExceeded is errclass.Timeout. The fetchers refine this with
// the contexts they hold (a caller's expired deadline is errclass.Canceled).
func Classify(err error) errclass.Class {
	if err == nil {
		return errclass.OK
	}
	var ce *classedError
	if errors.As(err, &ce) {
		return ce.class
	}
	if errors.Is(err, netguard.ErrBlocked) { // the dialer's guard refused the address
		return errclass.BlockedAddress
	}
	if errors.Is(err, context.Canceled) {
		return errclass.Canceled
	}
	if errors.Is(err, errFetchTimeout) || errors.Is(err, errRobotsTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return errclass.Timeout
	}
	// DNS before the generic timeout check: a resolver timeout is a DNS
	// problem (transient), not a slow server.
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			return errclass.DNSNotFound
		}
		return errclass.DNSTemporary
	}
	var addrErr *net.AddrError
	if errors.As(err, &addrErr) {
		return errclass.InvalidURL
	}
	if isTLSError(err) {
		return errclass.TLS
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return errclass.ConnRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return errclass.ConnReset
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return errclass.Timeout
	}
	var escErr url.EscapeError
	var hostErr url.InvalidHostError
	var urlErr *url.Error
	if errors.As(err, &escErr) || errors.As(err, &hostErr) ||
		(errors.As(err, &urlErr) && urlErr.Op == "parse") {
		return errclass.InvalidURL
	}
	var protoErr *textproto.ProtocolError
	if errors.As(err, &protoErr) {
		return errclass.Protocol
	}
	// net/http reports most of these with unexported error types, so the
	// message is all there is. These strings have been stable for years.
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unsupported protocol scheme"),
		strings.Contains(msg, "no Host in request URL"),
		strings.Contains(msg, "failed to parse Location header"),
		strings.Contains(msg, "invalid URL"):
		return errclass.InvalidURL
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
		strings.Contains(msg, "too many transfer encodings"),
		strings.Contains(msg, "server response headers exceeded"): // MaxHeaderBytes
		return errclass.Protocol
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"),
		strings.Contains(msg, "server closed idle connection"):
		return errclass.ConnReset
	case strings.Contains(msg, "connection refused"):
		return errclass.ConnRefused
	}
	return errclass.Other
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
