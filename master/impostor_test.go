package master_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/mtls"
	"github.com/crawlmaster/crawlmaster/internal/promtest"
	"github.com/crawlmaster/crawlmaster/internal/testwait"
	"github.com/crawlmaster/crawlmaster/internal/websim"
	pb "github.com/crawlmaster/crawlmaster/proto/crawlmaster/v1"
)

// impostorTitle marks the results an impostor makes up, should any reach
// the database.
const impostorTitle = "IMPOSTOR"

// impostor is a gRPC assistant that is not the one rpc.yaml means: it
// claims idle slots on every poll and answers every batch with made-up
// results, and counts what the master sent it.
type impostor struct {
	pb.UnimplementedAssistantServer
	id    string
	polls atomic.Int64 // ReportIdleWorker calls
	calls atomic.Int64 // Crawl calls

	handshakes     atomic.Int64 // TLS handshakes begun
	handshakeFails atomic.Int64 // TLS handshakes that failed
}

func (s *impostor) ReportIdleWorker(context.Context, *pb.ReportIdleWorkerRequest) (*pb.ReportIdleWorkerResponse, error) {
	s.polls.Add(1)
	return &pb.ReportIdleWorkerResponse{AssistantId: s.id, TotalSlots: 8, IdleSlots: []uint32{0, 1, 2, 3, 4, 5, 6, 7}}, nil
}

func (s *impostor) Crawl(req *pb.CrawlRequest, stream grpc.ServerStreamingServer[pb.CrawlResult]) error {
	s.calls.Add(1)
	for _, task := range req.GetTasks() {
		if err := stream.Send(&pb.CrawlResult{UrlId: task.GetUrlId(), LeaseToken: task.GetLeaseToken(), Url: task.GetUrl(),
			FinalUrl: task.GetUrl(), HttpStatus: 200, ContentType: "text/html", Title: impostorTitle,
			ErrorClass: pb.ErrorClass_ERROR_CLASS_OK, Disposition: pb.Disposition_DISPOSITION_FETCHED,
			Robots: pb.RobotsDecision_ROBOTS_DECISION_ALLOWED}); err != nil {
			return status.Error(codes.Unavailable, err.Error())
		}
	}
	return nil
}

// counted wraps the impostor's server credentials to count handshakes:
// they show that the master did dial it.
type counted struct {
	credentials.TransportCredentials
	s *impostor
}

func (c counted) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c.s.handshakes.Add(1)
	out, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.s.handshakeFails.Add(1)
	}
	return out, info, err
}

func (c counted) Clone() credentials.TransportCredentials {
	return counted{TransportCredentials: c.TransportCredentials.Clone(), s: c.s}
}

// serveImpostor serves an impostor on ln with the certificate in files,
// requiring no client certificate (it wants batches from anyone), until
// the test ends.
func serveImpostor(t *testing.T, ln net.Listener, id string, files mtls.Files) *impostor {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	imp := &impostor{id: id}
	creds := counted{TransportCredentials: credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), s: imp}
	srv := grpc.NewServer(grpc.Creds(creds))
	pb.RegisterAssistantServer(srv, imp)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return imp
}

// lockedBuffer is a bytes.Buffer safe for the master's concurrent logging.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// copyFile copies src to dst (0600).
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// An impostor listening on an address rpc.yaml lists, with a certificate
// from another CA or from the right CA for another address, gets nothing:
// the master's TLS handshake with it fails before any RPC, the master
// counts and logs the refusal, marks the impostor down and crawls
// everything with the genuine assistant; no result the impostor could make up
// is stored.
func TestImpostorAssistantGetsNothing(t *testing.T) {
	cases := []struct {
		name   string
		reason string // crawlmaster_tls_refused_peers_total's
		// cert issues the impostor's certificate for its address id, given
		// the cluster's certificate directory.
		cert func(t *testing.T, id, clusterDir string) mtls.Files
	}{
		{
			name:   "other CA",
			reason: "untrusted",
			cert: func(t *testing.T, id, _ string) mtls.Files {
				// Its own CA, and a certificate for the very address listed.
				set := mtls.FileSet{Dir: t.TempDir()}
				if _, err := mtls.Issue(set, mtls.IssueOptions{MasterName: "master", Assistants: []string{id}, Validity: time.Hour}); err != nil {
					t.Fatal(err)
				}
				return set.Assistant(id)
			},
		},
		{
			name:   "right CA, other address",
			reason: "wrong_identity",
			cert: func(t *testing.T, _, clusterDir string) mtls.Files {
				// Signed by the cluster's CA, as another assistant's
				// certificate is, for another address. (Not another port
				// of 127.0.0.1: the certificates name the host alone, and
				// the master checks only the host.)
				dir := t.TempDir()
				src := mtls.FileSet{Dir: clusterDir}
				dst := mtls.FileSet{Dir: dir}
				srcCrt, srcKey := src.CA()
				dstCrt, dstKey := dst.CA()
				copyFile(t, srcCrt, dstCrt)
				copyFile(t, srcKey, dstKey)
				const other = "127.0.0.2:50052"
				is, err := mtls.Issue(dst, mtls.IssueOptions{MasterName: "master", Assistants: []string{other}, Validity: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				if !is[0].Kept {
					t.Fatalf("Issue made a new CA instead of using the cluster's: %+v", is[0])
				}
				return dst.Assistant(other)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Plain home pages only: the crawl's outcomes are not under
			// test here, and websim's hostile kinds would only make it
			// longer.
			const domains = 100
			c := newClusterSim(t, websim.Config{Domains: domains, Seed: 1}, 1, 16)
			genuine := c.cfg.RPC.Assistants[0]

			impLn, impPort := listen(t)
			fake := config.Assistant{Address: "127.0.0.1", Port: impPort, Workers: 8}
			imp := serveImpostor(t, impLn, fake.ID(), tc.cert(t, fake.ID(), c.cfg.TLS.Dir))
			c.cfg.RPC.Assistants = append(c.cfg.RPC.Assistants, fake)
			if err := c.cfg.Validate(); err != nil {
				t.Fatal(err)
			}

			// The master's log, kept to check what it says of the impostor.
			var logs lockedBuffer
			c.log = slog.New(slog.NewTextHandler(io.MultiWriter(tWriter{t}, &logs), &slog.HandlerOptions{Level: slog.LevelWarn}))

			start := time.Now()
			d := c.startMaster()
			stats := c.waitFinal(time.Minute)
			t.Logf("crawl final after %s: %v", time.Since(start).Round(time.Millisecond), stats.Counts)

			// The refusal is counted on the master's side, for this reason.
			refused := func() float64 {
				return promtest.Value(t, c.registry, "crawlmaster_tls_refused_peers_total", map[string]string{"side": "master", "reason": tc.reason})
			}
			testwait.UntilWhy(t, fmt.Sprintf(`crawlmaster_tls_refused_peers_total{side="master",reason=%q} above 0 after the crawl`, tc.reason),
				10*time.Second, 50*time.Millisecond, func() (bool, string) {
					return refused() > 0, fmt.Sprintf("impostor handshakes %d", imp.handshakes.Load())
				})

			// The dispatcher warns of the impostor once its polls failed
			// down_after times in a row, which can be after the crawl ended.
			// Wait for one failure more: the feeder counts a failure before
			// it logs, so only the next one's count shows that the warning
			// of the down_after-th (checked below) has been written.
			pollFailures := func() float64 {
				return promtest.Value(t, c.registry, "crawlmaster_dispatch_poll_failures_total", map[string]string{"assistant": fake.ID()})
			}
			downAfter := float64(c.cfg.Dispatch.DownAfter)
			testwait.UntilWhy(t, fmt.Sprintf("crawlmaster_dispatch_poll_failures_total{assistant=%q} over down_after (%v) after the crawl's end", fake.ID(), downAfter),
				10*time.Second, 50*time.Millisecond, func() (bool, string) {
					n := pollFailures()
					return n > downAfter, fmt.Sprintf("%v", n)
				})

			var impStatus, realStatus []string
			for _, a := range d.Dispatcher.Status() {
				switch a.ID {
				case fake.ID():
					impStatus = append(impStatus, a.LastError)
					if a.Up || a.Dispatched != 0 || a.InFlight != 0 || a.LastError == "" {
						t.Errorf("impostor %s: status %+v; want down, nothing dispatched, a last error", a.ID, a)
					}
					t.Logf("impostor's status: %+v", a)
				case genuine.ID():
					realStatus = append(realStatus, a.ID)
					if !a.Up || a.Dispatched < domains {
						t.Errorf("genuine assistant %s: status %+v; want up, all %d URLs dispatched", a.ID, a, domains)
					}
				}
			}
			if len(impStatus) != 1 || len(realStatus) != 1 {
				t.Fatalf("dispatcher status lists the impostor %d times and the genuine assistant %d times; want once each", len(impStatus), len(realStatus))
			}
			c.stop()
			t.Logf("master refused the impostor %v times (%s); the impostor saw %d handshakes, %d failed",
				refused(), tc.reason, imp.handshakes.Load(), imp.handshakeFails.Load())

			// The master did dial the impostor, and never got past the
			// handshake: no poll, no batch.
			if imp.handshakes.Load() == 0 {
				t.Error("the impostor saw no TLS handshake: the master never dialed it, the test proves nothing")
			}
			if n, m := imp.polls.Load(), imp.calls.Load(); n != 0 || m != 0 {
				t.Errorf("impostor received %d ReportIdleWorker and %d Crawl calls; want none", n, m)
			}
			if f, h := imp.handshakeFails.Load(), imp.handshakes.Load(); f != h {
				t.Errorf("%d of the impostor's %d handshakes succeeded; want none", h-f, h)
			}

			// Logged once, as a refused TLS peer, with the reason, naming
			// the address dialled (host and port, as rpc.yaml lists it).
			host := fake.ID()
			var refusedLines, unreachable []string
			for line := range strings.Lines(logs.String()) {
				switch {
				case strings.Contains(line, "refused a TLS peer"):
					refusedLines = append(refusedLines, strings.TrimSpace(line))
				case strings.Contains(line, "assistant unreachable"):
					unreachable = append(unreachable, strings.TrimSpace(line))
				}
			}
			if len(refusedLines) != 1 || !strings.Contains(refusedLines[0], "peer="+host) || !strings.Contains(refusedLines[0], "reason="+tc.reason) {
				t.Errorf("master's warnings about refused TLS peers: %q; want one naming peer=%s and reason=%s", refusedLines, host, tc.reason)
			}
			if len(unreachable) == 0 || !strings.Contains(unreachable[0], "assistant="+fake.ID()) || strings.Contains(strings.Join(unreachable, "\n"), "assistant="+genuine.ID()) {
				t.Errorf("master's warnings about unreachable assistants: %q; want the impostor %s, not the genuine assistant", unreachable, fake.ID())
			}

			// Stored: one result per URL, each from the genuine assistant,
			// none made up.
			var results, distinct, byReal, madeUp int
			if err := c.pool.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT url_id),
				count(*) FILTER (WHERE assistant = $1), count(*) FILTER (WHERE title = $2 OR state <> 'done') FROM results`,
				genuine.ID(), impostorTitle).Scan(&results, &distinct, &byReal, &madeUp); err != nil {
				t.Fatal(err)
			}
			if results != domains || distinct != domains || byReal != domains || madeUp != 0 {
				t.Fatalf("results: %d (%d distinct URLs), %d from the genuine assistant %s, %d titled %q or not done; want %d, %d, %d, 0",
					results, distinct, byReal, genuine.ID(), madeUp, impostorTitle, domains, domains, domains)
			}
			var fromImpostor int
			if err := c.pool.QueryRow(t.Context(), `SELECT count(*) FROM results WHERE assistant = $1`, fake.ID()).Scan(&fromImpostor); err != nil {
				t.Fatal(err)
			}
			if fromImpostor != 0 {
				t.Fatalf("%d results attributed to the impostor %s", fromImpostor, fake.ID())
			}
		})
	}
}
