package master

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/internal/portmux"
	"github.com/crawlmaster/crawlmaster/internal/rpcserver"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// The API server's connection settings (manager.proto documents them for
// clients).
const (
	apiMaxRecvMsg   = 16 << 20
	apiHandshake    = 10 * time.Second
	apiStreamPoll   = time.Second // StreamResults' poll interval once caught up
	apiGracefulStop = 5 * time.Second
)

// crawlManagerStart begins the full method names of CrawlManager's calls.
var crawlManagerStart = "/" + pb.CrawlManager_ServiceDesc.ServiceName + "/"

// apiMetrics are the API's Prometheus metrics; the labels are the gRPC
// method (bounded by the services registered) and status code.
type apiMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	streams  prometheus.Gauge
	streamed prometheus.Counter
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	const ns, sub = "crawlmaster", "api"
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "requests_total", Help: "Calls of the master's API (CrawlManager, health, reflection) that ended, by full gRPC method and status code."},
			[]string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "request_duration_seconds", Help: "Latency of the API's unary calls, by full gRPC method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9)}, []string{"method"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "result_streams", Help: "StreamResults calls open now."}),
		streamed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "streamed_results_total", Help: "Results sent by StreamResults."}),
	}
	// The methods' OK series exist from the start, so the first call is an
	// increase Prometheus sees.
	for _, md := range pb.CrawlManager_ServiceDesc.Methods {
		m.requests.WithLabelValues(crawlManagerStart+md.MethodName, codes.OK.String())
	}
	for _, sd := range pb.CrawlManager_ServiceDesc.Streams {
		m.requests.WithLabelValues(crawlManagerStart+sd.StreamName, codes.OK.String())
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.streams, m.streamed)
	}
	return m
}

// unary counts and times unary calls.
func (m *apiMetrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	m.duration.WithLabelValues(info.FullMethod).Observe(time.Since(start).Seconds())
	m.requests.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
	return resp, err
}

// stream counts streaming calls.
func (m *apiMetrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	err := h(srv, ss)
	m.requests.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
	return err
}

// gateUnary and gateStream let CrawlManager calls through only while the
// master leads; the others get the not-leader answer. Health and
// reflection always pass.
func (a *api) gateUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if strings.HasPrefix(info.FullMethod, crawlManagerStart) {
		if leading, _ := a.me.lead.get(); !leading {
			return nil, a.notLeader(ctx)
		}
	}
	return h(ctx, req)
}

func (a *api) gateStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if strings.HasPrefix(info.FullMethod, crawlManagerStart) {
		if leading, _ := a.me.lead.get(); !leading {
			return a.notLeader(ss.Context())
		}
	}
	return h(srv, ss)
}

// apiServer is the running API: a gRPC server on the TLS side of the
// admin port, with the health service following the leadership.
type apiServer struct {
	srv     *grpc.Server
	health  *health.Server
	stop    chan struct{}
	wg      sync.WaitGroup
	stopped sync.Once
	log     *slog.Logger
}

// startAPI serves a on ln with creds: the one place the API's gRPC server
// is built (interceptors, health, reflection, keepalive, message sizes).
func startAPI(ln net.Listener, a *api, creds credentials.TransportCredentials, log *slog.Logger) *apiServer {
	srv := grpc.NewServer(append(rpcserver.Keepalive(),
		grpc.Creds(creds),
		grpc.ChainUnaryInterceptor(a.m.unary, rpcserver.RecoverUnary(log), a.gateUnary),
		grpc.ChainStreamInterceptor(a.m.stream, rpcserver.RecoverStream(log), a.gateStream),
		grpc.MaxRecvMsgSize(apiMaxRecvMsg),
		grpc.ConnectionTimeout(apiHandshake))...,
	)
	s := &apiServer{srv: srv, health: health.NewServer(), stop: make(chan struct{}), log: log}
	pb.RegisterCrawlManagerServer(srv, a)
	healthpb.RegisterHealthServer(srv, s.health)
	reflection.Register(srv)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.followLeadership(a.me)
	}()
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil {
			log.Error("API server stopped", "err", err)
		}
	}()
	log.Info("API serving (gRPC with mutual TLS on the admin port)", "addr", ln.Addr().String())
	return s
}

// followLeadership keeps the health service's answer in step with the
// leadership: SERVING while the master leads, NOT_SERVING otherwise.
func (s *apiServer) followLeadership(me *self) {
	for {
		leading, changed := me.lead.get()
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if leading {
			st = healthpb.HealthCheckResponse_SERVING
		}
		s.health.SetServingStatus("", st)
		s.health.SetServingStatus(pb.CrawlManager_ServiceDesc.ServiceName, st)
		select {
		case <-changed:
		case <-s.stop:
			return
		}
	}
}

// Stop stops the server: calls in flight get grace to end, then are cut.
func (s *apiServer) Stop(grace time.Duration) {
	s.stopped.Do(func() {
		close(s.stop)
		s.health.Shutdown() // NOT_SERVING; Watch streams end with the server
		done := make(chan struct{})
		go func() {
			s.srv.GracefulStop()
			close(done)
		}()
		t := time.NewTimer(grace)
		select {
		case <-done:
			t.Stop()
		case <-t.C:
			s.log.Warn(fmt.Sprintf("API calls still open after %s; closing them", grace))
			s.srv.Stop()
			<-done
		}
		s.wg.Wait()
	})
}

// serveAPI starts the API on the TLS side of mux, with creds (nil: the API
// is off, tls.plaintext, and TLS connections are closed). It records the
// API's address in me for the heartbeats.
func serveAPI(mux *portmux.Mux, creds credentials.TransportCredentials, o Options, me *self) *apiServer {
	m := newAPIMetrics(o.Registry)
	if creds == nil {
		mux.TLS().Close()
		return nil
	}
	me.apiAddr = advertised(mux.Addr())
	var bodyCap int64
	if o.Config.Persist.StoreBodies {
		bodyCap = int64(o.Config.Persist.StoredBodyCap)
	}
	a := &api{me: me, guard: netguard.New(o.Config.Fetch.AllowedPrefixes()), log: o.Log.With("component", "api"), m: m,
		poll: apiStreamPoll, bodyCap: bodyCap, after: time.After}
	return startAPI(mux.TLS(), a, creds, a.log)
}
