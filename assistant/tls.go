package assistant

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/internal/mtls"
)

// serverCredentials returns the assistant's gRPC credentials: mutual TLS
// with its certificate (rpc.yaml's tls.dir, or o.TLS's files), requiring
// the master's; or, with tls.plaintext, insecure ones and a warning, and
// only on a loopback address unless tls.plaintext_network. The
// certificates are reloaded until ctx is done; wait waits for that loop.
func serverCredentials(ctx context.Context, o Options, entry config.Assistant, listen string, log *slog.Logger) (creds credentials.TransportCredentials, wait func(), err error) {
	cfg := o.Config
	if cfg.TLS.Plaintext {
		if !loopback(listen) && !cfg.TLS.PlaintextNetwork {
			return nil, nil, fmt.Errorf("tls.plaintext: refusing to listen on %s, which is not a loopback address, without TLS "+
				"(any host that reaches it could use this assistant as a fetch proxy); set tls.plaintext_network to allow it", listen)
		}
		log.Warn("tls.plaintext is on: this assistant serves any client, not only the master")
		return insecure.NewCredentials(), func() {}, nil
	}
	files := o.TLS.Or(mtls.FileSet{Dir: cfg.TLSDir()}.Assistant(entry.ID()))
	tlog := o.Log.With("component", "tls")
	m := mtls.NewMetrics(o.Registry)
	r, err := mtls.NewReloader(files, tlog, m)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (create the certificates with `master certs` and copy ca.crt and this assistant's files here, or set tls.plaintext)", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.Run(ctx, cfg.TLS.ReloadInterval, o.Reload)
	}()
	log.Info("mutual TLS: serving only the master", "cert", files.Cert, "not_after", r.NotAfter(), "master_name", cfg.TLS.MasterName)
	return mtls.ServerCredentials(r, cfg.TLS.MasterName, tlog, m), wg.Wait, nil
}

// loopback reports whether a listen address ("host:port") is on a
// loopback interface only ("localhost" included; an empty host, all
// interfaces, is not).
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
