package e2e

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// httpGet GETs url and returns the body of a 200 answer. It keeps no
// connection open afterwards (no goroutine outlives the call).
func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), nil
}
