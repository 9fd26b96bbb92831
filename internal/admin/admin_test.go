package admin

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Serve serves /metrics from the registry, /healthz while it runs and
// /readyz from the ready function on a listener the caller bound, and Close releases it.
func TestServeOnListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "admin_test_gauge", Help: "A gauge."})
	g.Set(7)
	reg.MustRegister(g)
	// The health error is read by the server's goroutine.
	var (
		mu        sync.Mutex
		unhealthy error
	)
	ready := func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		return "leader", unhealthy
	}
	s := Serve(ln, reg, false, ready, slog.New(slog.DiscardHandler))
	if s.Addr() != ln.Addr().String() {
		t.Fatalf("Addr() = %s, want the listener's %s", s.Addr(), ln.Addr())
	}
	// A client of our own, so its keep-alive connections can be closed
	// before the leak check.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := c.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}

	cases := []struct {
		path      string
		unhealthy error
		code      int
		body      string
	}{
		{"/metrics", nil, 200, "admin_test_gauge 7"},
		{"/healthz", nil, 200, "ok"},
		{"/healthz", errors.New("database down"), 200, "ok"}, // liveness: the process serves
		{"/readyz", nil, 200, "leader"},
		{"/readyz", errors.New("database down"), 503, "not ready: database down"},
		{"/debug/pprof/", nil, 404, ""}, // pprof is off
	}
	for _, tc := range cases {
		mu.Lock()
		unhealthy = tc.unhealthy
		mu.Unlock()
		code, body := get(tc.path)
		if code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("GET %s (unhealthy %v): %d %q, want %d containing %q", tc.path, tc.unhealthy, code, body, tc.code, tc.body)
		}
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if conn, err := net.Dial("tcp", s.Addr()); err == nil {
		conn.Close()
		t.Fatal("the listener still accepts after Close")
	}
}
