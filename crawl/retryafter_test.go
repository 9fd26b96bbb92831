package crawl_test

import (
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/crawl"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"120":                           120 * time.Second,
		" 0 ":                           0,
		"-5":                            0,
		"1.5":                           0,
		"99999999999999999999":          crawl.MaxRetryAfter,
		"86401":                         crawl.MaxRetryAfter,
		"Wed, 01 Jan 2025 00:02:00 GMT": 2 * time.Minute,
		"Tue, 31 Dec 2024 23:00:00 GMT": 0,
		"Fri, 01 Jan 2100 00:00:00 GMT": crawl.MaxRetryAfter,
		"tomorrow":                      0,
	}
	for in, want := range cases {
		if got := crawl.ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}
