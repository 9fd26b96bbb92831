package rpcserver

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A panicking handler answers INTERNAL and leaves its stack in the log;
// a handler that returns is passed through.
func TestRecover(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	info := &grpc.UnaryServerInfo{FullMethod: "/svc/M"}
	_, err := RecoverUnary(log)(context.Background(), nil, info, func(context.Context, any) (any, error) { panic("boom") })
	if status.Code(err) != codes.Internal || !strings.Contains(buf.String(), "boom") || !strings.Contains(buf.String(), "/svc/M") {
		t.Errorf("unary panic: err %v, log %q", err, buf.String())
	}
	resp, err := RecoverUnary(log)(context.Background(), nil, info, func(context.Context, any) (any, error) { return 7, nil })
	if resp != 7 || err != nil {
		t.Errorf("unary pass-through: %v, %v", resp, err)
	}
	buf.Reset()
	err = RecoverStream(log)(nil, nil, &grpc.StreamServerInfo{FullMethod: "/svc/S"}, func(any, grpc.ServerStream) error { panic("bang") })
	if status.Code(err) != codes.Internal || !strings.Contains(buf.String(), "bang") {
		t.Errorf("stream panic: err %v, log %q", err, buf.String())
	}
	if len(Keepalive()) != 2 {
		t.Error("Keepalive: want the enforcement policy and the server parameters")
	}
}
