package mtls

import (
	"cmp"
	"net"
	"path/filepath"
	"strings"
)

// Files are the PEM files one daemon needs: the CA certificate(s) it
// trusts, and its own certificate and key.
type Files struct {
	CA, Cert, Key string
}

// Or returns f with each empty path taken from def: a daemon's
// --tls-ca, --tls-cert and --tls-key flags (f) over tls.dir's files (def).
func (f Files) Or(def Files) Files {
	return Files{CA: cmp.Or(f.CA, def.CA), Cert: cmp.Or(f.Cert, def.Cert), Key: cmp.Or(f.Key, def.Key)}
}

// FileSet names the files of a certificate directory, as Issue writes
// them: ca.crt/ca.key, master.crt/master.key and, per assistant,
// assistant-<address>-<port>.crt/.key; and, as IssueClient writes them,
// client-<name>.crt/.key per API client.
type FileSet struct{ Dir string }

// CA returns the CA certificate and key paths.
func (s FileSet) CA() (crt, key string) {
	return filepath.Join(s.Dir, "ca.crt"), filepath.Join(s.Dir, "ca.key")
}

// Master returns the master's files.
func (s FileSet) Master() Files { return s.leaf("master") }

// Assistant returns the files of the assistant whose rpc.yaml id is
// "address:port".
func (s FileSet) Assistant(id string) Files {
	name := fileSafe.Replace(id)
	if host, port, err := net.SplitHostPort(id); err == nil {
		name = fileSafe.Replace(host) + "-" + port
	}
	return s.leaf("assistant-" + name)
}

// Client returns the files of the API client called name.
func (s FileSet) Client(name string) Files { return s.leaf("client-" + fileSafe.Replace(name)) }

func (s FileSet) leaf(name string) Files {
	ca, _ := s.CA()
	return Files{CA: ca, Cert: filepath.Join(s.Dir, name+".crt"), Key: filepath.Join(s.Dir, name+".key")}
}

// fileSafe makes an address a file name part (IPv6 colons become "_").
var fileSafe = strings.NewReplacer(":", "_", "/", "_", "[", "", "]", "")
