package assistant

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/internal/config"
)

// Plaintext needs tls.plaintext and warns; on an address other than
// loopback it also needs tls.plaintext_network. Without plaintext, missing
// certificates fail the start with a message saying how to create them.
func TestServerCredentialsRules(t *testing.T) {
	cases := []struct {
		name               string
		plaintext, network bool
		listen             string
		wantErr, wantWarn  string
	}{
		{"plaintext on loopback", true, false, "127.0.0.1:50052", "", "tls.plaintext is on"},
		{"plaintext on localhost", true, false, "localhost:50052", "", "tls.plaintext is on"},
		{"plaintext on IPv6 loopback", true, false, "[::1]:50052", "", "tls.plaintext is on"},
		{"plaintext on all interfaces", true, false, "0.0.0.0:50052", "set tls.plaintext_network", ""},
		{"plaintext on an empty host", true, false, ":50052", "set tls.plaintext_network", ""},
		{"plaintext on a LAN address", true, false, "10.0.0.3:50052", "set tls.plaintext_network", ""},
		{"plaintext on a LAN address, allowed", true, true, "10.0.0.3:50052", "", "tls.plaintext is on"},
		{"TLS without certificates", false, false, "127.0.0.1:50052", "master certs", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.TLS.Dir = t.TempDir() // empty: no certificates
			cfg.TLS.Plaintext, cfg.TLS.PlaintextNetwork = c.plaintext, c.network
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			o := Options{Config: cfg, Log: log, Registry: prometheus.NewRegistry()}
			creds, wait, err := serverCredentials(context.Background(), o, config.Assistant{Address: "127.0.0.1", Port: 50052, Workers: 1}, c.listen, log)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wait()
			if creds.Info().SecurityProtocol != "insecure" {
				t.Errorf("credentials %q, want insecure", creds.Info().SecurityProtocol)
			}
			if !strings.Contains(logs.String(), c.wantWarn) || !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("log %q, want a warning saying %q", logs.String(), c.wantWarn)
			}
		})
	}
}
