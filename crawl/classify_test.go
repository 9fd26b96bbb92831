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
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
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
		want errclass.Class
	}{
		{nil, errclass.OK},
		{context.Canceled, errclass.Canceled},
		{wrap(context.DeadlineExceeded), errclass.Timeout},
		{wrap(os.ErrDeadlineExceeded), errclass.Timeout},
		{wrap(&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}), errclass.DNSNotFound},
		{wrap(&net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}), errclass.DNSTemporary},
		{wrap(&net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}), errclass.DNSTemporary},
		{wrap(opErr(syscall.ECONNREFUSED)), errclass.ConnRefused},
		{wrap(opErr(syscall.ECONNRESET)), errclass.ConnReset},
		{wrap(io.ErrUnexpectedEOF), errclass.ConnReset},
		{wrap(io.EOF), errclass.ConnReset},
		{wrap(x509.UnknownAuthorityError{}), errclass.TLS},
		{wrap(x509.HostnameError{Host: "a", Certificate: &x509.Certificate{}}), errclass.TLS},
		{wrap(errors.New("remote error: tls: handshake failure")), errclass.TLS},
		{wrap(errors.New(`net/http: HTTP/1.x transport connection broken: malformed HTTP response "x"`)), errclass.Protocol},
		{wrap(errors.New(`unsupported protocol scheme "ftp"`)), errclass.InvalidURL},
		{&url.Error{Op: "parse", URL: "%", Err: url.EscapeError("%")}, errclass.InvalidURL},
		{errors.New("something odd"), errclass.Other},
		{fmt.Errorf("deep: %w", wrap(opErr(syscall.ECONNREFUSED))), errclass.ConnRefused},
	}
	for _, c := range cases {
		if got := crawl.Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
