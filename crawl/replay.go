package crawl

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http/httptrace"
	"sync/atomic"
)

// No silent replays.
//
// net/http's Transport resends a request by itself when a reused
// keep-alive connection fails before the first byte of the answer
// (persistConn.shouldRetryRequest): for a GET without body
// (Request.isReplayable) it retries on another connection, whether or not
// the server had already received, and perhaps served, the first copy.
// Such a resend bypasses the politeness delay and the crawler's own
// retry policy. There is no option to turn it off; giving the GET a body
// without GetBody would, but it also stops 307/308 redirects and makes
// the Transport probe the body on a goroutine for every request.
//
// Instead every connection is a wireConn, and every request of the crawler
// carries a wireGuard (an httptrace.ClientTrace). GotConn tells the
// connection which guard's request it is about to carry. When a read
// fails after a request was written and before any byte of the answer,
// the connection cancels that request's context, synchronously, inside
// the Read: the Transport's retry loop checks the context before trying
// again and gives up; the fetch reports the read error. So a request that reached the wire
// is never sent twice; the fetch ends with the class of the read error
// (conn_reset, usually), and the master's retry policy decides when to
// try again. Retries of requests that never left the process (nothing
// written, or a connection seen dead before the write) are still allowed:
// the server never saw them.
//
// HTTP/2 connections are not guarded: the HTTP/2 transport only retries
// streams the server declared unprocessed (GOAWAY beyond the last stream
// id, REFUSED_STREAM; RFC 9113 8.7).

// wireConn is a dialed connection that knows whether a request written on
// it is still waiting for the first byte of its answer.
type wireConn struct {
	net.Conn
	owner atomic.Pointer[wireGuard] // the guard of the request last handed this connection
	sent  atomic.Bool               // a guarded request was written, no answer byte read since
	dead  atomic.Bool               // a read failed: the connection is gone
	h2    atomic.Int32              // 0 unknown, 1 HTTP/1.x, 2 HTTP/2 (not guarded)
	// onWrite, when set, runs once after the next write returns: the
	// politeness callback of the request about to be written (onwire.go).
	onWrite atomic.Pointer[func()]
}

// errConnGone is a write on a connection whose read side already failed:
// nothing is written, so the Transport may use another connection.
var errConnGone = errors.New("connection already closed by the server; request not written")

func (c *wireConn) Write(b []byte) (int, error) {
	if c.dead.Load() {
		return 0, errConnGone
	}
	if c.owner.Load() != nil {
		c.sent.Store(true) // before the write: an answer may come before Write returns
	}
	n, err := c.Conn.Write(b)
	if n > 0 {
		if fn := c.onWrite.Swap(nil); fn != nil {
			(*fn)()
		}
	}
	return n, err
}

func (c *wireConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.sent.Store(false)
	}
	if err != nil {
		c.dead.Store(true)
		if c.sent.Load() {
			if g := c.owner.Load(); g != nil {
				g.lost(err)
			}
		}
	}
	return n, err
}

// wireGuard is the trace of one fetch's requests.
type wireGuard struct {
	trace  httptrace.ClientTrace
	cancel context.CancelFunc
	err    atomic.Pointer[classedError]
}

// withWireGuard returns a context for requests that must never be resent
// by the Transport. cancel must cancel ctx (the caller's timeout context:
// one cancellable layer serves both). When the guard ends a request, the
// request's error is context.Canceled and failure returns the real one.
func withWireGuard(ctx context.Context, cancel context.CancelFunc) (context.Context, *wireGuard) {
	g := &wireGuard{cancel: cancel}
	g.trace.GotConn = g.gotConn
	return httptrace.WithClientTrace(ctx, &g.trace), g
}

// failure returns the error of a request the guard ended, or nil.
func (g *wireGuard) failure() error {
	if e := g.err.Load(); e != nil {
		return e
	}
	return nil
}

// fix returns the guard's failure if it ended the request, else err.
func (g *wireGuard) fix(err error) error {
	if f := g.failure(); f != nil && err != nil {
		return f
	}
	return err
}

// asWireConn returns the wireConn under c (a TLS connection's too), or
// nil; tc is the TLS connection when there is one.
func asWireConn(c net.Conn) (wc *wireConn, tc *tls.Conn) {
	if t, ok := c.(*tls.Conn); ok {
		tc, c = t, t.NetConn()
	}
	wc, _ = c.(*wireConn)
	return wc, tc
}

func (g *wireGuard) gotConn(info httptrace.GotConnInfo) {
	wc, tc := asWireConn(info.Conn)
	if wc == nil {
		return
	}
	switch wc.h2.Load() {
	case 0:
		if tc != nil && tc.ConnectionState().NegotiatedProtocol == "h2" {
			wc.h2.Store(2)
			return
		}
		wc.h2.Store(1)
	case 2:
		return
	}
	wc.owner.Store(g)
}

// lost ends the guarded request: its connection failed after the request
// was written. The failure keeps the read error's class.
func (g *wireGuard) lost(err error) {
	g.err.CompareAndSwap(nil, &classedError{class: Classify(err),
		err: fmt.Errorf("connection lost after the request was sent (not resent): %w", err)})
	g.cancel()
}
