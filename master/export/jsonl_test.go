package export

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"
)

func TestJSONLWriter(t *testing.T) {
	cases := fetchCases(t)
	var buf bytes.Buffer
	var w Writer = NewJSONLWriter(&buf)
	for _, c := range cases {
		if err := w.Write(c.rec); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(cases[0].rec); err == nil {
		t.Error("Write after Close succeeded")
	}

	keys := []string{
		"lease_token", "url", "final_url", "crawl", "depth", "state", "class", "error", "status",
		"content_type", "title", "fetched_at", "persisted_at", "duration_ms", "redirects", "outlinks",
		"content_hash", "body_size", "body_truncated", "not_modified", "unchanged", "headers",
	}
	slices.Sort(keys)

	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	n := 0
	for ; sc.Scan(); n++ {
		if n >= len(cases) {
			t.Fatalf("more lines than records: %s", sc.Text())
		}
		c, r := cases[n], cases[n].rec
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v: %s", n, err, sc.Text())
		}
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, keys) {
			t.Errorf("%s: keys %v, want %v", c.name, got, keys)
		}
		for _, k := range []string{"fetched_at", "persisted_at"} {
			want := map[string]time.Time{"fetched_at": r.FetchedAt, "persisted_at": r.PersistedAt}[k]
			s, _ := m[k].(string)
			if ts, err := time.Parse(time.RFC3339Nano, s); err != nil || !ts.Equal(want) || s != want.UTC().Format(time.RFC3339Nano) {
				t.Errorf("%s: %s %q, want %s", c.name, k, s, want.UTC().Format(time.RFC3339Nano))
			}
		}

		var got JSONRecord
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		want := JSONRecord{
			LeaseToken: r.LeaseToken, URL: r.URL, FinalURL: r.FinalURL, Crawl: r.Crawl, Depth: r.Depth,
			State: r.State, Class: r.Class, Error: r.ErrorMessage, Status: r.HTTPStatus,
			ContentType: r.ContentType, Title: r.Title,
			FetchedAt: r.FetchedAt, PersistedAt: r.PersistedAt,
			DurationMS: r.Duration.Milliseconds(), Redirects: r.Redirects, Outlinks: r.Links,
			ContentHash: hex.EncodeToString(r.ContentHash), BodySize: r.BodySize,
			BodyTruncated: r.BodyTruncated, NotModified: r.NotModified, Unchanged: r.Unchanged,
			Headers: got.Headers, // checked below
		}
		if got.DurationMS == 0 || got.ContentHash == "" && r.ContentHash != nil {
			t.Errorf("%s: duration_ms %d, content_hash %q", c.name, got.DurationMS, got.ContentHash)
		}
		if !got.FetchedAt.Equal(want.FetchedAt) || !got.PersistedAt.Equal(want.PersistedAt) {
			t.Errorf("%s: times %v %v, want %v %v", c.name, got.FetchedAt, got.PersistedAt, want.FetchedAt, want.PersistedAt)
		}
		got.FetchedAt, got.PersistedAt, want.FetchedAt, want.PersistedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !jsonEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, want)
		}
		if r.ResponseHead == nil {
			if m["headers"] != nil {
				t.Errorf("%s: headers %v without a response, want null", c.name, m["headers"])
			}
		} else if got.Headers == nil {
			t.Errorf("%s: headers null with a response", c.name)
		}
	}
	if n != len(cases) {
		t.Fatalf("%d lines, want %d", n, len(cases))
	}

	// The first case's headers: the subset, lowercase, first value.
	first := NewJSONRecord(cases[0].rec).Headers
	wantHeaders := map[string]string{
		"content-type": "text/html", "content-length": "3062", "etag": `"abc"`,
		"cache-control": "max-age=60", "server": "test",
	}
	if !maps.Equal(first, wantHeaders) {
		t.Errorf("headers %v, want %v", first, wantHeaders)
	}
	if h := NewJSONRecord(cases[9].rec).Headers; h["x-robots-tag"] != "noarchive" || len(h) != 2 {
		t.Errorf("headers %v, want content-type and x-robots-tag", h)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestResponseHeaders(t *testing.T) {
	for _, c := range []struct {
		head string
		want map[string]string
	}{
		{"", nil},
		{"HTTP/1.1 301 Moved Permanently\r\nLOCATION: https://x.test/\r\nlocation: https://y.test/\r\n\r\n", map[string]string{"location": "https://x.test/"}},
		{"HTTP/1.1 200 OK\nContent-Type:  text/plain \nX-Fold: a\n b\nbogus line\nLast-Modified: Tue, 01 Jan 2030 00:00:00 GMT\n\nContent-Length: 5\n", map[string]string{"content-type": "text/plain", "last-modified": "Tue, 01 Jan 2030 00:00:00 GMT"}},
		{"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Len", map[string]string{"cache-control": "no-store"}}, // capped mid-line
	} {
		got := responseHeaders([]byte(c.head))
		if c.want == nil {
			if got != nil {
				t.Errorf("responseHeaders(%q) = %v, want nil", c.head, got)
			}
			continue
		}
		if !maps.Equal(got, c.want) {
			t.Errorf("responseHeaders(%q) = %v, want %v", c.head, got, c.want)
		}
	}
}
