package mtls

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"slices"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/atomicfile"
)

// IssueOptions says what Issue creates.
type IssueOptions struct {
	// MasterName is the identity in the master's certificate (a DNS SAN
	// and the common name): rpc.yaml's tls.master_name.
	MasterName string
	// Assistants are the rpc.yaml ids ("address:port") to issue server
	// certificates for; the address becomes the certificate's SAN.
	Assistants []string
	// Validity of the master's and assistants' certificates; the CA's is
	// ten times as long.
	Validity time.Duration
	// Force replaces existing keys and certificates (and so the CA: every
	// certificate is then issued again). Without it nothing that exists
	// is overwritten: a missing certificate is issued for an existing key.
	Force bool
	// Now is the issue time (zero: time.Now()).
	Now time.Time
}

// Issued is one certificate Issue wrote or kept.
type Issued struct {
	What     string // "CA", "master", "assistant 10.0.0.3:50052"
	Cert     string // its certificate file
	Key      string // its key file
	NotAfter time.Time
	Kept     bool // it existed and was left alone
}

// Issue creates, in set.Dir (made 0700 when missing), the CA, the
// master's certificate (for client and server authentication) and a
// server certificate per assistant, files 0600. It never replaces an
// existing key unless opts.Force.
func Issue(set FileSet, opts IssueOptions) ([]Issued, error) {
	if opts.MasterName == "" {
		return nil, errors.New("issue certificates: empty master name")
	}
	if opts.Validity <= 0 {
		return nil, errors.New("issue certificates: validity must be > 0")
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if err := os.MkdirAll(set.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("issue certificates: %w", err)
	}
	caCrt, caKeyPath := set.CA()
	ca, caKey, caIssued, err := issueCA(caCrt, caKeyPath, opts)
	if err != nil {
		return nil, err
	}
	out := []Issued{caIssued}
	issuer := &issuer{ca: ca, key: caKey, now: opts.Now, validity: opts.Validity, force: opts.Force}
	m := set.Master()
	is, err := issuer.leaf("master", m, masterTemplate(opts.MasterName))
	if err != nil {
		return out, err
	}
	out = append(out, is)
	for _, id := range opts.Assistants {
		host, _, err := net.SplitHostPort(id)
		if err != nil {
			return out, fmt.Errorf("issue certificates: assistant %q: %w", id, err)
		}
		is, err := issuer.leaf("assistant "+id, set.Assistant(id), serverTemplate(host))
		if err != nil {
			return out, err
		}
		out = append(out, is)
	}
	return out, nil
}

// clientTemplate is the master's certificate: for client authentication,
// naming the master.
func clientTemplate(name string) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		DNSNames:    []string{name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

// masterTemplate is the master's certificate: for client authentication
// (the master dials its assistants) and server authentication (it serves
// the API, see APIServerConfig), naming the master.
func masterTemplate(name string) *x509.Certificate {
	tmpl := clientTemplate(name)
	tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	return tmpl
}

// apiClientTemplate is an API client's certificate: for client
// authentication, in the organizational unit APIClientOU, without DNS
// names (the assistants accept only a client certificate whose DNS name
// is the master's).
func apiClientTemplate(name string) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: name, OrganizationalUnit: []string{APIClientOU}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

// ClientOptions says what IssueClient creates.
type ClientOptions struct {
	// Name identifies the client: the certificate's common name and its
	// files' names. 1-64 letters, digits, '-', '_' or '.', not starting
	// with '.' or '-'.
	Name string
	// Validity of the certificate.
	Validity time.Duration
	// Force replaces an existing key and certificate of the client.
	Force bool
	// Now is the issue time (zero: time.Now()).
	Now time.Time
}

// IssueClient creates the certificate and key of an API client in
// set.Dir (files 0600, set.Client(Name)), signed by the CA there, which
// must exist (Issue creates it). Like Issue, it keeps an existing key
// unless opts.Force, and an existing certificate that the CA signed for
// it.
func IssueClient(set FileSet, opts ClientOptions) (Issued, error) {
	f := set.Client(opts.Name)
	out := Issued{What: "API client " + opts.Name, Cert: f.Cert, Key: f.Key}
	if !validClientName(opts.Name) {
		return out, fmt.Errorf("issue client certificate: name %q: want 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit", opts.Name)
	}
	if opts.Validity <= 0 {
		return out, errors.New("issue client certificate: validity must be > 0")
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	caCrt, caKeyPath := set.CA()
	key, kerr := readKey(caKeyPath)
	ca, cerr := readCert(caCrt)
	if err := errors.Join(kerr, cerr); err != nil {
		return out, fmt.Errorf("issue client certificate: the CA: %w (create it with `master certs`)", err)
	}
	if !publicKeyMatches(ca, key) {
		return out, fmt.Errorf("issue client certificate: %s does not belong to %s", caKeyPath, caCrt)
	}
	is := &issuer{ca: ca, key: key, now: opts.Now, validity: opts.Validity, force: opts.Force}
	return is.leaf(out.What, f, apiClientTemplate(opts.Name))
}

func validClientName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// serverTemplate is an assistant's certificate: for server
// authentication, for its address (an IP or a DNS name).
func serverTemplate(host string) *x509.Certificate {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: host},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	return tmpl
}

// issueCA loads the CA when both its files exist (and Force is off), or
// creates it.
func issueCA(crtPath, keyPath string, opts IssueOptions) (*x509.Certificate, crypto.Signer, Issued, error) {
	is := Issued{What: "CA", Cert: crtPath, Key: keyPath}
	if !opts.Force {
		key, kerr := readKey(keyPath)
		crt, cerr := readCert(crtPath)
		switch {
		case kerr == nil && cerr == nil:
			if !publicKeyMatches(crt, key) {
				return nil, nil, is, fmt.Errorf("issue certificates: %s does not belong to %s; move them away or use --force", keyPath, crtPath)
			}
			is.NotAfter, is.Kept = crt.NotAfter, true
			return crt, key, is, nil
		case errors.Is(kerr, fs.ErrNotExist) && errors.Is(cerr, fs.ErrNotExist):
		case kerr != nil && !errors.Is(kerr, fs.ErrNotExist):
			return nil, nil, is, fmt.Errorf("issue certificates: %w", kerr)
		case cerr != nil && !errors.Is(cerr, fs.ErrNotExist):
			return nil, nil, is, fmt.Errorf("issue certificates: %w", cerr)
		default:
			return nil, nil, is, fmt.Errorf("issue certificates: only one of %s and %s exists; move it away or use --force", crtPath, keyPath)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, is, err
	}
	tmpl := &x509.Certificate{
		// Dated, so that an error naming "another" CA tells them apart.
		Subject:               pkix.Name{CommonName: "crawlmaster CA " + opts.Now.UTC().Format("2006-01-02T15:04:05Z")},
		NotBefore:             opts.Now.Add(-time.Hour),
		NotAfter:              opts.Now.Add(10 * opts.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	crt, err := sign(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, is, err
	}
	if err := writeKey(keyPath, key); err != nil {
		return nil, nil, is, err
	}
	if err := writeCert(crtPath, crt); err != nil {
		return nil, nil, is, err
	}
	is.NotAfter = crt.NotAfter
	return crt, key, is, nil
}

type issuer struct {
	ca       *x509.Certificate
	key      crypto.Signer
	now      time.Time
	validity time.Duration
	force    bool // replace existing keys and certificates
}

// leaf issues the certificate of f from tmpl, keeping an existing key
// (and an existing certificate that the CA signed for it).
func (is *issuer) leaf(what string, f Files, tmpl *x509.Certificate) (Issued, error) {
	out := Issued{What: what, Cert: f.Cert, Key: f.Key}
	var key crypto.Signer
	if !is.force {
		k, err := readKey(f.Key)
		switch {
		case err == nil:
			key = k
		case !errors.Is(err, fs.ErrNotExist):
			return out, fmt.Errorf("issue certificates: %w", err)
		}
		if key != nil {
			// A certificate of an older layout (one without a usage tmpl
			// has now) is issued again for its key.
			if crt, err := readCert(f.Cert); err == nil && publicKeyMatches(crt, key) && crt.CheckSignatureFrom(is.ca) == nil &&
				hasUsages(crt, tmpl.ExtKeyUsage) {
				out.NotAfter, out.Kept = crt.NotAfter, true
				return out, nil
			}
		}
	}
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return out, err
		}
		if err := writeKey(f.Key, k); err != nil {
			return out, err
		}
		key = k
	}
	tmpl.NotBefore = is.now.Add(-time.Hour) // clocks of the machines differ a little
	tmpl.NotAfter = is.now.Add(is.validity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	crt, err := sign(tmpl, is.ca, key.Public(), is.key)
	if err != nil {
		return out, err
	}
	if err := writeCert(f.Cert, crt); err != nil {
		return out, err
	}
	out.NotAfter = crt.NotAfter
	return out, nil
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("issue certificates: %w", err)
	}
	return x509.ParseCertificate(der)
}

// hasUsages reports whether crt is good for every usage in want.
func hasUsages(crt *x509.Certificate, want []x509.ExtKeyUsage) bool {
	for _, u := range want {
		if !slices.Contains(crt.ExtKeyUsage, u) {
			return false
		}
	}
	return true
}

func publicKeyMatches(crt *x509.Certificate, key crypto.Signer) bool {
	pub, ok := crt.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(key.Public())
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return atomicfile.WriteMode(path, 0o600, func(w io.Writer) error {
		return pem.Encode(w, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	})
}

func writeCert(path string, crt *x509.Certificate) error {
	return atomicfile.WriteMode(path, 0o600, func(w io.Writer) error {
		return pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: crt.Raw})
	})
}

func readKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		if ek, eerr := x509.ParseECPrivateKey(blk.Bytes); eerr == nil {
			return ek, nil
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported key type %T", path, k)
	}
	return s, nil
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(bytes.TrimSpace(b))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	crt, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return crt, nil
}
