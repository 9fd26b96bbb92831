package assistant

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/internal/admin"
	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/gctune"
	"github.com/crawlmaster/crawlmaster/internal/mtls"
	"github.com/crawlmaster/crawlmaster/internal/rpcserver"
	"github.com/crawlmaster/crawlmaster/internal/wire"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// Options are the assistant daemon's dependencies.
type Options struct {
	Config *config.Config
	// Listen is the gRPC listen address ("host:port"). The assistant's
	// entry in rpc.yaml is the one with this address, or else the only one
	// with this port (so an assistant can listen on 0.0.0.0).
	Listen string
	// ID names the rpc.yaml entry explicitly ("address:port" as listed),
	// for an assistant the master reaches through a proxy or NAT at an
	// address other than Listen. Empty: found from Listen.
	ID string
	// MetricsListen overrides the entry's metrics address ("": from config).
	MetricsListen string
	// Listener and MetricsListener, if set, are served instead of listening
	// on Listen and the metrics address: a caller (a test) binds port 0 and
	// hands the listener over, so no one can take the port in between.
	// Listen still selects the rpc.yaml entry unless ID does; when both are
	// empty the listener's address does. Run closes the listeners it is given.
	Listener        net.Listener
	MetricsListener net.Listener
	Log             *slog.Logger
	Registry        *prometheus.Registry
	// Started, if set, is called with the bound addresses once serving.
	Started func(grpcAddr, metricsAddr string)
	// TLS overrides the files of the assistant's certificate, key and CA
	// (empty fields: those in rpc.yaml's tls.dir for its entry).
	TLS mtls.Files
	// Reload, when a value arrives (SIGHUP), reloads the certificates.
	Reload <-chan os.Signal
}

// FindEntry picks this assistant's rpc.yaml entry for a listen address.
func FindEntry(cfg *config.Config, listen string) (config.Assistant, error) {
	if a, _, ok := cfg.Assistant(listen); ok {
		return a, nil
	}
	_, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return config.Assistant{}, fmt.Errorf("--listen %q: %w", listen, err)
	}
	port, _ := strconv.Atoi(portStr)
	var found []config.Assistant
	for _, a := range cfg.RPC.Assistants {
		if a.Port == port {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return config.Assistant{}, fmt.Errorf("--listen %s: no rpc.assistant entry has this address or port; add it to rpc.yaml", listen)
	}
	return config.Assistant{}, fmt.Errorf("--listen %s: several rpc.assistant entries use port %d; listen on the exact address", listen, port)
}

// Run is the assistant daemon: it serves the Assistant service until ctx
// is cancelled, then drains (reports draining, finishes running batches
// within fetch.shutdown_grace, cancels the rest) and stops.
func Run(ctx context.Context, o Options) error {
	log := o.Log.With("component", "assistant")
	ln, mln := o.Listener, o.MetricsListener
	served := false // the servers own ln and mln once serving
	defer func() {
		for _, l := range []net.Listener{ln, mln} {
			if !served && l != nil {
				l.Close()
			}
		}
	}()
	listen := o.Listen
	if listen == "" && ln != nil {
		listen = ln.Addr().String()
	}
	entry, err := FindEntry(o.Config, listen)
	if o.ID != "" {
		var ok bool
		if entry, _, ok = o.Config.Assistant(o.ID); !ok {
			return fmt.Errorf("--id %s: no rpc.assistant entry has this address:port", o.ID)
		}
		err = nil
	}
	if err != nil {
		return err
	}
	fc := o.Config.Fetch.Config
	// One slot fetches one host at a time, and a host's connection is only
	// reused between its robots.txt and its pages: more idle connections
	// than slots only hold memory (two goroutines and buffers each).
	fc.MaxIdleConns = int(entry.Workers)
	gc := gctune.Apply(int64(o.Config.Fetch.MemoryLimit), gctune.AssistantPercent)
	log.Info("gc pacing", "gc_percent", gc.Percent, "memory_limit_bytes", gc.MemoryLimit)
	fetcher, err := crawl.New(fc, crawl.Deps{Log: o.Log.With("component", "crawl"), Metrics: crawl.NewMetrics(o.Registry)})
	if err != nil {
		return err
	}
	// However Run returns, nothing fetches any more once it has: close the
	// fetcher's keep-alive connections, whose read and write goroutines
	// would otherwise outlive Run (seen by the leak checks of in-process
	// tests; in a daemon, exit hides it).
	defer func() {
		if c, ok := fetcher.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}()
	lim := Limits{BodyCap: int64(fc.BodyCap), MaxTasks: o.Config.Dispatch.BatchSize}
	srv := NewServer(entry.ID(), int(entry.Workers), fetcher, lim, log, NewMetrics(o.Registry))
	if ln == nil {
		if ln, err = net.Listen("tcp", listen); err != nil {
			return fmt.Errorf("listen %s: %w", listen, err)
		}
	}
	tctx, stopTLS := context.WithCancel(ctx)
	creds, waitTLS, err := serverCredentials(tctx, o, entry, ln.Addr().String(), log)
	if err != nil {
		stopTLS()
		return err
	}
	defer func() { stopTLS(); waitTLS() }() // the certificate reload loop
	gs := NewGRPCServer(srv, creds, log)
	if mln == nil {
		metricsAddr := o.MetricsListen
		if metricsAddr == "" {
			metricsAddr = net.JoinHostPort(listenHost(listen), strconv.Itoa(entry.EffectiveMetricsPort()))
		}
		if mln, err = net.Listen("tcp", metricsAddr); err != nil {
			return fmt.Errorf("admin server: listen %s: %w", metricsAddr, err)
		}
	}
	adm := admin.Serve(mln, o.Registry, o.Config.Metrics.Pprof, srv.Ready, o.Log.With("component", "admin"))
	defer adm.Close()
	serveErr := make(chan error, 1)
	served = true
	go func() { serveErr <- gs.Serve(ln) }()
	log.Info("assistant serving", "id", entry.ID(), "listen", ln.Addr().String(), "slots", int(entry.Workers),
		"metrics", adm.Addr(), "user_agent", fc.UserAgent)
	if o.Started != nil {
		o.Started(ln.Addr().String(), adm.Addr())
	}
	select {
	case err := <-serveErr:
		return fmt.Errorf("grpc server: %w", err)
	case <-ctx.Done():
	}
	grace := o.Config.Fetch.ShutdownGrace
	dctx, cancel := context.WithTimeout(context.Background(), grace)
	srv.Drain(dctx)
	cancel()
	// Running batches have returned; GracefulStop now only waits for
	// in-flight polls. Force it after a few seconds regardless.
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		gs.Stop()
	}
	log.Info("assistant stopped")
	return nil
}

func listenHost(listen string) string {
	h, _, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	return h
}

// NewGRPCServer builds the assistant's gRPC server on creds (mutual TLS,
// see serverCredentials): panic recovery and logging interceptors,
// keepalive enforcement matching the master's client parameters, message
// size bounds from srv's limits, the health service (NOT_SERVING once srv
// drains) and reflection (behind the same authentication).
func NewGRPCServer(srv *Server, creds credentials.TransportCredentials, log *slog.Logger) *grpc.Server {
	gs := grpc.NewServer(
		append(rpcserver.Keepalive(),
			grpc.Creds(creds),
			grpc.MaxRecvMsgSize(wire.MaxRequestBytes(srv.lim.MaxTasks)),
			grpc.MaxSendMsgSize(wire.MaxResultBytes(srv.lim.BodyCap)),
			grpc.ChainUnaryInterceptor(rpcserver.RecoverUnary(log)),
			grpc.ChainStreamInterceptor(rpcserver.RecoverStream(log)))...,
	)
	pb.RegisterAssistantServer(gs, srv)
	hs := health.NewServer() // the whole server ("") is SERVING from the start
	hs.SetServingStatus(pb.Assistant_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	srv.health = hs
	reflection.Register(gs)
	return gs
}
