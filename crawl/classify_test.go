package crawl_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/crawlmaster/crawlmaster/crawl"
)

func TestClassify(t *testing.T) {
	wrap := func(err error) error {
		return &url.Error{Op: "Get", URL: "http://a.test/", Err: err}
	}
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	cases := []struct {
		err  error
		want crawl.Class
	}{
		{nil, crawl.ClassOK},
		{context.Canceled, crawl.ClassCanceled},
		{wrap(context.DeadlineExceeded), crawl.ClassTimeout},
		{wrap(os.ErrDeadlineExceeded), crawl.ClassTimeout},
		{wrap(&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}), crawl.ClassDNSNotFound},
		{wrap(&net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}), crawl.ClassDNSTemporary},
		{wrap(&net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}), crawl.ClassDNSTemporary},
		{wrap(opErr(syscall.ECONNREFUSED)), crawl.ClassConnRefused},
		{wrap(opErr(syscall.ECONNRESET)), crawl.ClassConnReset},
		{wrap(io.ErrUnexpectedEOF), crawl.ClassConnReset},
		{wrap(io.EOF), crawl.ClassConnReset},
		{wrap(x509.UnknownAuthorityError{}), crawl.ClassTLS},
		{wrap(x509.HostnameError{Host: "a", Certificate: &x509.Certificate{}}), crawl.ClassTLS},
		{wrap(errors.New("remote error: tls: handshake failure")), crawl.ClassTLS},
		{wrap(errors.New(`net/http: HTTP/1.x transport connection broken: malformed HTTP response "x"`)), crawl.ClassProtocol},
		{wrap(errors.New(`unsupported protocol scheme "ftp"`)), crawl.ClassInvalidURL},
		{&url.Error{Op: "parse", URL: "%", Err: url.EscapeError("%")}, crawl.ClassInvalidURL},
		{errors.New("something odd"), crawl.ClassOther},
		{fmt.Errorf("deep: %w", wrap(opErr(syscall.ECONNREFUSED))), crawl.ClassConnRefused},
	}
	for _, c := range cases {
		if got := crawl.Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestClassProperties(t *testing.T) {
	permanent := map[crawl.Class]bool{
		crawl.ClassHTTP4xx: true, crawl.ClassRobotsDisallowed: true, crawl.ClassDNSNotFound: true,
		crawl.ClassTooManyRedirects: true, crawl.ClassTLS: true, crawl.ClassInvalidURL: true,
	}
	all := crawl.AllClasses()
	if len(all) != 17 {
		t.Fatalf("%d classes", len(all))
	}
	seen := map[crawl.Class]bool{}
	for _, c := range all {
		if seen[c] {
			t.Errorf("duplicate %q", c)
		}
		seen[c] = true
		if !c.Valid() || crawl.ParseClass(string(c)) != c {
			t.Errorf("%q: valid=%v parse=%q", c, c.Valid(), crawl.ParseClass(string(c)))
		}
		want := !permanent[c] && c != crawl.ClassOK
		if c.Transient() != want {
			t.Errorf("%q.Transient() = %v, want %v", c, c.Transient(), want)
		}
	}
	all[0] = "mutated"
	if crawl.AllClasses()[0] != crawl.ClassOK {
		t.Error("AllClasses exposes internal slice")
	}
	for _, s := range []string{"", "OK", "nope", "http_4XX"} {
		if c := crawl.ParseClass(s); c != crawl.ClassOther || crawl.Class(s).Valid() {
			t.Errorf("ParseClass(%q) = %q", s, c)
		}
	}
	if !crawl.Class("future_class").Transient() {
		t.Error("unknown classes must be transient")
	}
}

func TestClassForStatus(t *testing.T) {
	for status, want := range map[int]crawl.Class{
		200: crawl.ClassOK, 204: crawl.ClassOK, 299: crawl.ClassOK, 304: crawl.ClassOther,
		400: crawl.ClassHTTP4xx, 404: crawl.ClassHTTP4xx, 429: crawl.ClassHTTP429,
		500: crawl.ClassHTTP5xx, 503: crawl.ClassHTTP5xx, 100: crawl.ClassOther, 600: crawl.ClassOther,
	} {
		if got := crawl.ClassForStatus(status); got != want {
			t.Errorf("ClassForStatus(%d) = %q, want %q", status, got, want)
		}
	}
}
