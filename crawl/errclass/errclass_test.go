package errclass_test

import (
	"testing"

	"github.com/crawlmaster/crawlmaster/crawl/errclass"
)

func TestClassProperties(t *testing.T) {
	permanent := map[errclass.Class]bool{
		errclass.HTTP4xx: true, errclass.RobotsDisallowed: true, errclass.DNSNotFound: true,
		errclass.TooManyRedirects: true, errclass.TLS: true, errclass.InvalidURL: true,
		errclass.BlockedAddress: true,
	}
	all := errclass.All()
	if len(all) != 18 {
		t.Fatalf("%d classes", len(all))
	}
	seen := map[errclass.Class]bool{}
	for _, c := range all {
		if seen[c] {
			t.Errorf("duplicate %q", c)
		}
		seen[c] = true
		if !c.Valid() || errclass.Parse(string(c)) != c {
			t.Errorf("%q: valid=%v parse=%q", c, c.Valid(), errclass.Parse(string(c)))
		}
		want := !permanent[c] && c != errclass.OK
		if c.Transient() != want {
			t.Errorf("%q.Transient() = %v, want %v", c, c.Transient(), want)
		}
	}
	all[0] = "mutated"
	if errclass.All()[0] != errclass.OK {
		t.Error("All exposes its internal array")
	}
	for _, s := range []string{"", "OK", "nope", "http_4XX"} {
		if c := errclass.Parse(s); c != errclass.Other || errclass.Class(s).Valid() {
			t.Errorf("Parse(%q) = %q", s, c)
		}
	}
	if !errclass.Class("future_class").Transient() {
		t.Error("unknown classes must be transient")
	}
}

func TestForStatus(t *testing.T) {
	for status, want := range map[int]errclass.Class{
		200: errclass.OK, 204: errclass.OK, 299: errclass.OK, 304: errclass.Other,
		400: errclass.HTTP4xx, 404: errclass.HTTP4xx, 429: errclass.HTTP429,
		500: errclass.HTTP5xx, 503: errclass.HTTP5xx, 100: errclass.Other, 600: errclass.Other,
	} {
		if got := errclass.ForStatus(status); got != want {
			t.Errorf("ForStatus(%d) = %q, want %q", status, got, want)
		}
	}
}
