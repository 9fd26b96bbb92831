package mtls

import "flag"

// AddFlags defines --tls-ca, --tls-cert and --tls-key on fs: a daemon's
// own files, overriding those named by rpc.yaml's tls.dir (paths differ
// per machine). Empty fields are not overridden.
func AddFlags(fs *flag.FlagSet) *Files {
	f := &Files{}
	fs.StringVar(&f.CA, "tls-ca", "", "CA certificate file (default: ca.crt in rpc.yaml's tls.dir)")
	fs.StringVar(&f.Cert, "tls-cert", "", "this daemon's certificate file (default: in rpc.yaml's tls.dir)")
	fs.StringVar(&f.Key, "tls-key", "", "this daemon's key file (default: in rpc.yaml's tls.dir)")
	return f
}
