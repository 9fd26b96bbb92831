package master

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/internal/config"
	"github.com/crawlmaster/crawlmaster/master/dispatch"
)

// The master refuses to start without its certificates, saying how to
// create them; with tls.plaintext it starts and warns.
func TestAssistantCredentialsRules(t *testing.T) {
	cfg := config.Default()
	cfg.TLS.Dir = t.TempDir() // empty: no certificates
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	o := Options{Config: cfg, Log: log, Registry: prometheus.NewRegistry()}
	if _, err := masterCredentials(context.Background(), o, log); err == nil || !strings.Contains(err.Error(), "master certs") {
		t.Fatalf("without certificates: %v, want an error naming `master certs`", err)
	}

	cfg.TLS.Plaintext = true
	creds, err := masterCredentials(context.Background(), o, log)
	if err != nil {
		t.Fatal(err)
	}
	creds.wait()
	if p := creds.dial(dispatch.Target{Addr: "10.0.0.3:50052"}).Info().SecurityProtocol; p != "insecure" {
		t.Errorf("plaintext credentials %q, want insecure", p)
	}
	if creds.api != nil {
		t.Error("with tls.plaintext the API has credentials; want it off")
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "tls.plaintext is on") {
		t.Errorf("log %q, want a warning that tls.plaintext is on", logs.String())
	}
}
