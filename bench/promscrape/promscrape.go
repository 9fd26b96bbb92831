// Package promscrape reads a daemon's Prometheus text exposition over
// loopback HTTP for the benchmark programs (bench/harness,
// bench/sitescale), which sample the master's and assistants' /metrics
// while a crawl runs.
package promscrape

import (
	"bufio"
	"fmt"
	"net/http"
	"time"
)

// client asks for uncompressed metrics: the daemons would otherwise gzip
// every scrape, CPU charged to crawlmaster by the benchmark itself.
var client = http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableCompression: true}}

// Lines returns the lines of http://127.0.0.1:port/metrics, or nil when
// the daemon does not answer (it may not be up yet, or be gone).
func Lines(port int) []string {
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}
