// Package mtls is the mutual TLS between the master and its assistants,
// and between the master's API and its clients.
//
// Every gRPC connection from the master to an assistant is TLS 1.3 with a
// certificate on both sides, both issued by one private CA:
//
//   - The assistant (server) requires a client certificate that chains to
//     the CA, is meant for client authentication, and names the master
//     (tls.master_name in rpc.yaml, a DNS SAN). An assistant's own
//     certificate, another CA's, or none at all is refused.
//   - The master (client) verifies each assistant's certificate against
//     the CA and the address it dials, as rpc.yaml lists it (an IP SAN
//     for an IP address, a DNS SAN for a name). An impostor listening on
//     a listed address with another CA's certificate, or with a sibling
//     assistant's, is refused before any batch is sent.
//
// The master's API (CrawlManager in proto/crawlmaster/v1/manager.proto)
// is served with the master's certificate, which is for server
// authentication too, and takes only API clients (APIServerConfig):
//
//   - The client certificate must chain to the CA, be meant for client
//     authentication, and carry the organizational unit APIClientOU
//     ("crawlmaster-api"), as IssueClient (`master certs --client NAME`)
//     makes it. The master's own certificate, an assistant's, another
//     CA's, or none at all is refused.
//   - An API client's certificate has no DNS name, so an assistant,
//     which takes only a certificate naming the master, refuses it: an
//     API client cannot pose as the master.
//   - Clients check the master's certificate against the CA and
//     tls.master_name (APIClientConfig), whatever address they dial.
//
// A refused peer is counted (crawlmaster_tls_refused_peers_total, by
// side and reason) and logged once per peer address.
//
// Certificates come from files (Files) and are reloaded when they change
// (Reloader.Run polls their size and modification time) or on demand
// (Reloader.Reload, which the daemons call on SIGHUP), without a restart:
// new handshakes use the new certificate and CA, established connections
// keep theirs. A file set that does not load (a key and certificate that
// do not match, half-written files) leaves the previous one in use. The
// expiry of the daemon's certificate and of the CA is a gauge
// (crawlmaster_tls_certificate_expiry_timestamp_seconds).
//
// Issue creates the CA, the master's certificate and one per assistant
// (what `master certs` runs), IssueClient an API client's (`master certs
// --client NAME`), with Go's crypto/x509 only: ECDSA P-256 keys, files
// 0600 in one directory, named by FileSet.
package mtls
