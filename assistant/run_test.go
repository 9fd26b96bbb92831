package assistant_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/crawlmaster/crawlmaster/assistant"
	"github.com/crawlmaster/crawlmaster/crawl/fetchconfig"
	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/mtls"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// listen binds a loopback port chosen by the kernel, to be handed over.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// Run serves on the listeners it is handed, and when it stops it closes
// the fetcher's keep-alive connections: a site it fetched, still up, sees
// its connection closed once Run has returned.
func TestRunClosesIdleConnections(t *testing.T) {
	var mu sync.Mutex
	open := map[net.Conn]bool{} // the site's connections not closed yet
	site := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<title>home</title>")
	}))
	site.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open[c] = true
		case http.StateClosed, http.StateHijacked:
			delete(open, c)
		}
	}
	site.Start()
	defer site.Close()
	openConns := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(open)
	}

	ln, mln := listen(t), listen(t)
	cfg := config.Default()
	cfg.RPC.Manager.Port = 1 // the master's, not bound here
	cfg.RPC.Assistants = []config.Assistant{{Address: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Workers: 1}}
	cfg.Fetch.Resolve = []fetchconfig.ResolveRule{{Pattern: "*.test", Addr: site.Listener.Addr().String()}}
	cfg.Fetch.AllowedNetworks = []fetchconfig.Network{{Prefix: netip.MustParsePrefix("127.0.0.0/8")}} // the site's
	cfg.Fetch.DefaultDelay = 0
	cfg.Fetch.ShutdownGrace = time.Second
	// Mutual TLS, as deployed: the certificates `master certs` writes.
	cfg.TLS.Dir = t.TempDir()
	set := mtls.FileSet{Dir: cfg.TLS.Dir}
	if _, err := mtls.Issue(set, mtls.IssueOptions{MasterName: cfg.TLS.MasterName,
		Assistants: []string{cfg.RPC.Assistants[0].ID()}, Validity: time.Hour}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- assistant.Run(ctx, assistant.Options{Config: cfg, Listener: ln, MetricsListener: mln,
			Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	}()

	// A client without the master's certificate is refused.
	plain, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := pb.NewAssistantClient(plain).ReportIdleWorker(ctx, &pb.ReportIdleWorkerRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("a plaintext client: %v, want Unavailable (no TLS handshake)", err)
	}
	r, err := mtls.NewReloader(set.Master(), slog.New(slog.DiscardHandler), mtls.NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(
		mtls.ClientCredentials(r, "127.0.0.1", slog.New(slog.DiscardHandler), mtls.NewMetrics(prometheus.NewRegistry()))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s, err := pb.NewAssistantClient(conn).Crawl(ctx, batch("b", 0, "http://a.test/"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recvAll(t, s) {
		if r.GetDisposition() == pb.Disposition_DISPOSITION_STARTED {
			continue // announces the fetch; the result follows
		}
		if r.GetErrorClass() != pb.ErrorClass_ERROR_CLASS_OK {
			t.Fatalf("fetch: %v", r)
		}
	}
	conn.Close()
	if n := openConns(); n == 0 {
		t.Fatal("the fetcher kept no connection to the site: nothing to check")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancel")
	}
	deadline := time.Now().Add(5 * time.Second)
	for openConns() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections to the site still open 5s after Run returned", openConns())
		}
		<-time.After(10 * time.Millisecond)
	}
}
