package mtls

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the TLS metrics of one daemon.
type Metrics struct {
	// RefusedPeers counts handshakes this daemon refused, by side
	// ("assistant": a client that is not the master; "master": a server
	// that is not the listed assistant) and reason (see refusalReason).
	RefusedPeers *prometheus.CounterVec
	// Expiry is the expiry, as a Unix time, of the daemon's certificate
	// ("own") and of its CA ("ca").
	Expiry *prometheus.GaugeVec
	// ReloadErrors counts certificate loads that failed (the previous
	// certificate stays in use).
	ReloadErrors prometheus.Counter
}

// NewMetrics creates the metrics and registers them on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "crawlmaster", "tls"
	m := &Metrics{
		RefusedPeers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "refused_peers_total", Help: "TLS handshakes refused, by refusing side and reason."}, []string{"side", "reason"}),
		Expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "certificate_expiry_timestamp_seconds", Help: "Expiry of the daemon's certificate (own) and its CA (ca), Unix time."}, []string{"cert"}),
		ReloadErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "reload_errors_total", Help: "Certificate loads that failed; the previous certificate stays in use."}),
	}
	if reg != nil {
		reg.MustRegister(m.RefusedPeers, m.Expiry, m.ReloadErrors)
	}
	return m
}
