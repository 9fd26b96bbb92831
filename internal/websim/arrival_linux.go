package websim

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Arrival times from the kernel.
//
// The timeline is the oracle of politeness: the gap between two requests
// to a host as the server sees them. A handler's time.Now() is when
// websim got round to the request, which on a loaded machine (two cores
// shared with the crawler under test and PostgreSQL) may be tens of
// milliseconds after it arrived, and unevenly so: a request handled late
// followed by one handled promptly shows a gap shorter than the one on
// the wire. So each connection asks the kernel for receive timestamps
// (SO_TIMESTAMPNS) and a request's start is the arrival of the last
// segment read before its handler ran: for a GET, the segment that
// carried it.

// arrivalListener enables receive timestamps on every accepted TCP
// connection.
type arrivalListener struct{ net.Listener }

// newArrivalListener wraps ln. It enables timestamps on the listening
// socket at once: the kernel stamps incoming packets only while some
// socket wants stamps, so a request that arrived before the first
// accepted connection asked for them would carry none.
func newArrivalListener(ln net.Listener) net.Listener {
	if tl, ok := ln.(*net.TCPListener); ok {
		if rc, err := tl.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
			})
		}
	}
	return arrivalListener{ln}
}

func (l arrivalListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return c, nil // no timestamps: handlers fall back to their own clock
	}
	return &arrivalConn{TCPConn: tc, rc: rc}, nil
}

// arrivalConn reads with recvmsg and keeps the kernel's receive time of
// the last segment read.
type arrivalConn struct {
	*net.TCPConn
	rc   syscall.RawConn
	last atomic.Int64 // unix ns; 0 until a timestamped read
}

// oobSize holds one SCM_TIMESTAMPNS control message.
var oobSize = syscall.CmsgSpace(int(unsafe.Sizeof(syscall.Timespec{})))

func (c *arrivalConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	oob := make([]byte, oobSize)
	var n, oobn int
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), b, oob, 0)
		return rerr != syscall.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	if msgs, perr := syscall.ParseSocketControlMessage(oob[:oobn]); perr == nil {
		for _, m := range msgs {
			if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPNS &&
				len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
				ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
				c.last.Store(ts.Nano())
			}
		}
	}
	return n, nil
}

type arrivalKey struct{}

// arrivalContext makes the connection's arrival times available to its
// handlers (http.Server.ConnContext).
func arrivalContext(ctx context.Context, c net.Conn) context.Context {
	if ac, ok := c.(*arrivalConn); ok {
		return context.WithValue(ctx, arrivalKey{}, ac)
	}
	return ctx
}

// arrived returns when r reached the kernel, or now when unknown.
func arrived(r *http.Request) time.Time {
	if ac, ok := r.Context().Value(arrivalKey{}).(*arrivalConn); ok {
		if ns := ac.last.Load(); ns != 0 {
			return time.Unix(0, ns)
		}
	}
	return time.Now()
}
