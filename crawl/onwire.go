package crawl

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"net/url"
)

// Politeness counts from the wire.
//
// A slot booked for time t may reach the wire later: a late timer, a
// busy process, a new connection's dial and TLS handshake. Spacing the
// next request from t would shorten the gap the server sees by that lag.
// So every request the crawler makes carries, in its context, a callback
// run once the request's first write to its connection has returned (the
// bytes are in the kernel); the politeness layer uses it to move the
// host's next slot to that moment + delay. httptrace's WroteRequest is
// not used: for HTTP/1 the Transport calls it before it flushes the
// request, so a preempted write loop would still send late. Redirect
// hops carry the same context: each hop's write calls the callback with
// the hop's URL.

type onWireKey struct{}

// withOnWire returns a context whose requests call fn with their URL once
// written to a connection.
func withOnWire(ctx context.Context, fn func(u *url.URL)) context.Context {
	return context.WithValue(ctx, onWireKey{}, fn)
}

// wireTimed is a RoundTripper that hands the context's withOnWire
// callback to the connection each request is written on (GotConn), which
// runs it after the write (wireConn.Write).
type wireTimed struct{ rt http.RoundTripper }

func (t wireTimed) RoundTrip(req *http.Request) (*http.Response, error) {
	fn, ok := req.Context().Value(onWireKey{}).(func(*url.URL))
	if !ok {
		return t.rt.RoundTrip(req)
	}
	u := req.URL
	wrote := func() { fn(u) }
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if wc, _ := asWireConn(info.Conn); wc != nil {
			wc.onWrite.Store(&wrote)
		}
	}}
	return t.rt.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
}

// CloseIdleConnections closes the wrapped transport's idle connections.
func (t wireTimed) CloseIdleConnections() {
	if c, ok := t.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
