package mtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"

	"google.golang.org/grpc/credentials"
)

// Sides of a refusal, the label of RefusedPeers.
const (
	sideAssistant = "assistant" // an assistant refused a client
	sideMaster    = "master"    // the master refused an assistant
	sideAPI       = "api"       // the master's API refused a client
)

// APIClientOU is the organizational unit of an API client's certificate
// (IssueClient): the master's API accepts no other client certificate.
const APIClientOU = "crawlmaster-api"

// errWrongIdentity is a peer certificate from the right CA for another
// role or name.
var errWrongIdentity = errors.New("wrong identity")

// ServerConfig is the assistant's TLS configuration: its own certificate,
// and a client certificate required, chaining to the CA, for client
// authentication, naming masterName. Each handshake takes the current
// files (see Reloader).
func ServerConfig(r *Reloader, masterName string) *tls.Config {
	return requireClient(r, func(leaf *x509.Certificate) error {
		if !slices.Contains(leaf.DNSNames, masterName) {
			return fmt.Errorf("%w: the client certificate (%s) does not name the master %q",
				errWrongIdentity, describe(leaf), masterName)
		}
		return nil
	})
}

// APIServerConfig is the TLS configuration of the master's API (the
// master serves it on rpc.manager's port): the master's certificate, and
// a client certificate required, chaining to the CA, for client
// authentication, and an API client's (its organizational unit is
// APIClientOU, as IssueClient makes it). The master's own certificate,
// an assistant's, another CA's or none are refused. Each handshake takes
// the current files (see Reloader).
func APIServerConfig(r *Reloader) *tls.Config {
	return requireClient(r, func(leaf *x509.Certificate) error {
		if !slices.Contains(leaf.Subject.OrganizationalUnit, APIClientOU) {
			return fmt.Errorf("%w: the client certificate (%s) is not an API client's (organizational unit %q; `master certs --client NAME` issues one)",
				errWrongIdentity, describe(leaf), APIClientOU)
		}
		return nil
	})
}

// requireClient is a server configuration presenting r's current
// certificate and requiring a client certificate that chains to r's CA,
// for client authentication, and passes identity.
func requireClient(r *Reloader, identity func(leaf *x509.Certificate) error) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{"h2"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cur := r.cur.Load()
			return &tls.Config{
				MinVersion:   tls.VersionTLS13,
				NextProtos:   []string{"h2"},
				Certificates: []tls.Certificate{cur.cert},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    cur.pool,
				VerifyConnection: func(cs tls.ConnectionState) error {
					if len(cs.PeerCertificates) == 0 {
						return errNoPeerCert
					}
					return identity(cs.PeerCertificates[0])
				},
			}, nil
		},
	}
}

// APIServerCredentials are the gRPC transport credentials of the
// master's API: APIServerConfig, with refused clients counted (side
// "api") and logged.
func APIServerCredentials(r *Reloader, log *slog.Logger, m *Metrics) credentials.TransportCredentials {
	return &watched{TransportCredentials: credentials.NewTLS(APIServerConfig(r)),
		refusals: newRefusals(sideAPI, log, m)}
}

// APIClientConfig is an API client's TLS configuration, loaded once from
// f (its certificate and key, as IssueClient writes them, and the CA): it
// presents the certificate and checks the master's against the CA and
// masterName (tls.master_name), whatever address it dials.
func APIClientConfig(f Files, masterName string) (*tls.Config, error) {
	l, err := load(f)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{"h2"},
		Certificates: []tls.Certificate{l.cert},
		RootCAs:      l.pool,
		ServerName:   masterName,
	}, nil
}

// ClientConfig is the master's TLS configuration for dialing the
// assistant at host (its rpc.yaml address): the master's certificate, and
// the server's checked against the current CA, for server
// authentication, naming host.
func ClientConfig(r *Reloader, host string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{"h2"},
		ServerName: host,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &r.cur.Load().cert, nil
		},
		// The chain is verified below against the CA as it is now (a
		// tls.Config's RootCAs cannot be swapped on reload).
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errNoPeerCert
			}
			leaf := cs.PeerCertificates[0]
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := leaf.Verify(x509.VerifyOptions{Roots: r.cur.Load().pool, Intermediates: inter,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			if err != nil {
				return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
			}
			if err := leaf.VerifyHostname(host); err != nil {
				return fmt.Errorf("%w: the server certificate (%s) is not for %s, the address rpc.yaml lists", errWrongIdentity, describe(leaf), host)
			}
			return nil
		},
	}
}

func describe(c *x509.Certificate) string {
	names := append(slices.Clone(c.DNSNames), ipStrings(c.IPAddresses)...)
	return fmt.Sprintf("CN %q, SAN %v, issuer %q", c.Subject.CommonName, names, c.Issuer.CommonName)
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

// ServerCredentials are the assistant's gRPC transport credentials:
// ServerConfig, with refused clients counted and logged.
func ServerCredentials(r *Reloader, masterName string, log *slog.Logger, m *Metrics) credentials.TransportCredentials {
	return &watched{TransportCredentials: credentials.NewTLS(ServerConfig(r, masterName)),
		refusals: newRefusals(sideAssistant, log, m)}
}

// ClientCredentials are the master's gRPC transport credentials for the
// assistant at host: ClientConfig, with refused servers counted and
// logged.
func ClientCredentials(r *Reloader, host string, log *slog.Logger, m *Metrics) credentials.TransportCredentials {
	return &watched{TransportCredentials: credentials.NewTLS(ClientConfig(r, host)),
		refusals: newRefusals(sideMaster, log, m)}
}

// watched wraps TLS credentials to see every failed handshake: those
// decided by crypto/tls (no certificate, unknown CA) as well as by the
// identity checks above.
type watched struct {
	credentials.TransportCredentials
	*refusals
}

func (w *watched) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := w.TransportCredentials.ServerHandshake(c)
	if err != nil {
		// A client's port is ephemeral: one client host is one peer.
		peer := c.RemoteAddr().String()
		host, _, splitErr := net.SplitHostPort(peer)
		if splitErr != nil {
			host = peer
		}
		w.refused(peer, host, err)
	}
	return conn, info, err
}

func (w *watched) ClientHandshake(ctx context.Context, authority string, c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := w.TransportCredentials.ClientHandshake(ctx, authority, c)
	if err != nil {
		// The assistant dialled, host:port as listed: several may share
		// a host (authority is only the host the certificate must name).
		peer := c.RemoteAddr().String()
		w.refused(peer, peer, err)
	}
	return conn, info, err
}

func (w *watched) Clone() credentials.TransportCredentials {
	return &watched{TransportCredentials: w.TransportCredentials.Clone(), refusals: w.refusals}
}

// refusals counts refused peers and logs each peer once.
type refusals struct {
	side string
	log  *slog.Logger
	m    *Metrics

	mu     sync.Mutex
	logged map[string]bool // peers logged; bounded by maxLogged
}

// maxLogged bounds the peers remembered for logging once; past it, new
// peers are counted only.
const maxLogged = 1024

func newRefusals(side string, log *slog.Logger, m *Metrics) *refusals {
	if m != nil {
		// Every series of this side exists from the start at 0, so that
		// the first refusal is an increase Prometheus sees.
		for _, reason := range refusalReasons {
			m.RefusedPeers.WithLabelValues(side, reason)
		}
	}
	return &refusals{side: side, log: log, m: m, logged: map[string]bool{}}
}

// refusalReasons are refusalReason's answers.
var refusalReasons = []string{"wrong_identity", "untrusted", "no_certificate", "not_tls", "other"}

// refused records a failed handshake with peer ("host:port"), logged
// once per key.
func (r *refusals) refused(peer, key string, err error) {
	reason := refusalReason(r.side, err)
	if reason == "" {
		return // not a refusal: the peer hung up, or the network failed
	}
	if r.m != nil {
		r.m.RefusedPeers.WithLabelValues(r.side, reason).Inc()
	}
	r.mu.Lock()
	first := !r.logged[key] && len(r.logged) < maxLogged
	if first {
		r.logged[key] = true
	}
	r.mu.Unlock()
	if first && r.log != nil {
		r.log.Warn("refused a TLS peer (logged once per peer; crawlmaster_tls_refused_peers_total counts them all)",
			"peer", peer, "reason", reason, "err", err)
	}
}

// refusalReason names why a handshake failed on side, or "" when it was
// not this side refusing the peer (a hang-up, a network error, or, for
// the master, the assistant refusing it: the assistant counts that).
func refusalReason(side string, err error) string {
	var rec tls.RecordHeaderError
	var verr *tls.CertificateVerificationError
	var inv x509.CertificateInvalidError
	switch {
	case errors.Is(err, errWrongIdentity):
		return "wrong_identity"
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		return "wrong_identity" // e.g. an assistant's server certificate offered as the master's
	case errors.As(err, &verr):
		return "untrusted"
	case errors.Is(err, errNoPeerCert):
		return "no_certificate"
	case side == sideMaster:
		return ""
	case errors.As(err, &rec):
		return "not_tls"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		return ""
	case isNoCertificate(err):
		return "no_certificate"
	}
	return "other"
}

// isNoCertificate recognises crypto/tls's error for a client that sent
// no certificate to a server requiring one (it has no exported type).
func isNoCertificate(err error) bool {
	var a tls.AlertError
	if errors.As(err, &a) && a == tls.AlertError(116) { // certificate_required
		return true
	}
	const msg = "client didn't provide a certificate"
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "tls: "+msg {
			return true
		}
	}
	return false
}
