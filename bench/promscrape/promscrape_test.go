package promscrape

import (
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestLines(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" || r.Header.Get("Accept-Encoding") == "gzip" {
			http.Error(w, "want /metrics, uncompressed", http.StatusBadRequest)
			return
		}
		w.Write([]byte("# HELP a_total A.\na_total 3\n"))
	}))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	if got := Lines(port); !slices.Equal(got, []string{"# HELP a_total A.", "a_total 3"}) {
		t.Errorf("Lines = %q", got)
	}
	srv.Close()
	if got := Lines(port); got != nil {
		t.Errorf("Lines of a closed port = %q, want nil", got)
	}
}
