package rpcserver

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// Keepalive: clients may ping every PingMin, also without a stream (one
// that pings more often is disconnected); the server pings a connection
// idle for PingIdle and drops it if the ping is not answered in
// PingTimeout.
const (
	PingMin     = 10 * time.Second
	PingIdle    = 30 * time.Second
	PingTimeout = 10 * time.Second
)

// Keepalive returns the server options of that policy.
func Keepalive() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: PingMin, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: PingIdle, Timeout: PingTimeout}),
	}
}

// RecoverUnary turns a unary handler's panic into INTERNAL, logged with
// its stack.
func RecoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer recovered(log, info.FullMethod, &err)
		return h(ctx, req)
	}
}

// RecoverStream is RecoverUnary for streaming handlers.
func RecoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer recovered(log, info.FullMethod, &err)
		return h(srv, ss)
	}
}

func recovered(log *slog.Logger, method string, err *error) {
	if p := recover(); p != nil {
		log.Error("panic in handler", "method", method, "panic", p, "stack", string(debug.Stack()))
		*err = status.Error(codes.Internal, "internal error")
	}
}
