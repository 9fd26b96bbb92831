//go:build !linux

package websim

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Without kernel receive timestamps a request's start is when its
// handler ran (see arrival_linux.go).

func newArrivalListener(ln net.Listener) net.Listener { return ln }

func arrivalContext(ctx context.Context, _ net.Conn) context.Context { return ctx }

func arrived(*http.Request) time.Time { return time.Now() }
