package promtest_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crawlmaster/crawlmaster/internal/promtest"
)

func TestValue(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total"}, []string{"reason", "kind"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "y_seconds"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "z"})
	reg.MustRegister(c, h, g)
	c.WithLabelValues("a", "k1").Add(2)
	c.WithLabelValues("b", "k1").Add(5)
	h.Observe(1)
	h.Observe(2)
	g.Set(7)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"x_total", map[string]string{"reason": "b"}, 5},
		{"x_total", map[string]string{"reason": "a", "kind": "k1"}, 2},
		{"x_total", map[string]string{"reason": "c"}, 0},
		{"x_total", map[string]string{"other": "a"}, 0}, // a label the series lacks
		{"y_seconds", nil, 2},
		{"z", nil, 7},
		{"missing", nil, 0},
	} {
		if got := promtest.Value(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("Value(%s, %v) = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}
