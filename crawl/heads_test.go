package crawl_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/crawlmaster/crawlmaster/crawl"
	"github.com/crawlmaster/crawlmaster/crawl/errclass"
)

// A conditional page request: the validators go out as If-None-Match and
// If-Modified-Since, a 304 is a success with no body, and a server that
// ignores them answers in full, as on a first fetch.
func TestConditionalGet(t *testing.T) {
	s := newSite(t)
	const etag, lastMod = `"v7"`, "Mon, 30 Nov 2026 10:00:00 GMT"
	var gotINM, gotIMS string
	s.handle("a.test/page", func(w http.ResponseWriter, r *http.Request) {
		gotINM, gotIMS = r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lastMod)
		if gotINM == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, htmlPage("Page"))
	})
	s.handle("b.test/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, htmlPage("Ignores validators"))
	})
	f := newFetcher(t, testConfig(s.addr()))
	ctx := context.Background()

	first := f.Fetch(ctx, crawl.Request{URL: "http://a.test/page", FollowRedirects: true})
	wantClass(t, first, errclass.OK)
	if first.NotModified || first.ETag != etag || first.LastModified != lastMod || gotINM != "" || gotIMS != "" {
		t.Fatalf("first fetch: notModified=%v etag=%q lastMod=%q sent INM=%q IMS=%q", first.NotModified, first.ETag, first.LastModified, gotINM, gotIMS)
	}

	again := f.Fetch(ctx, crawl.Request{URL: "http://a.test/page", FollowRedirects: true, IfNoneMatch: etag, IfModifiedSince: lastMod})
	wantClass(t, again, errclass.OK)
	switch {
	case gotINM != etag || gotIMS != lastMod:
		t.Errorf("sent If-None-Match=%q If-Modified-Since=%q", gotINM, gotIMS)
	case !again.NotModified || again.Status != http.StatusNotModified:
		t.Errorf("304 read as notModified=%v status=%d", again.NotModified, again.Status)
	case again.BodySize != 0 || again.Body != nil || again.ContentHash != [32]byte{} || again.Err != "":
		t.Errorf("304 carries body size %d, body %q, hash %x, err %q", again.BodySize, again.Body, again.ContentHash, again.Err)
	case again.ETag != etag:
		t.Errorf("304 etag = %q", again.ETag)
	case !bytes.Contains(again.RequestHead, []byte("If-None-Match: "+etag+"\r\n")):
		t.Errorf("request head lacks the validator:\n%s", again.RequestHead)
	}

	ignored := f.Fetch(ctx, crawl.Request{URL: "http://b.test/page", FollowRedirects: true, IfNoneMatch: etag})
	wantClass(t, ignored, errclass.OK)
	if ignored.NotModified || ignored.Status != 200 || ignored.ContentHash != sha256.Sum256([]byte(htmlPage("Ignores validators"))) {
		t.Errorf("server ignoring validators: notModified=%v status=%d", ignored.NotModified, ignored.Status)
	}

	// A 304 to an unconditional request is not a success: nothing was
	// asked that it could confirm.
	s.handle("c.test/page", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) })
	stray := f.Fetch(ctx, crawl.Request{URL: "http://c.test/page", FollowRedirects: true})
	if stray.Class == errclass.OK || stray.NotModified {
		t.Errorf("unasked 304: class %s notModified=%v", stray.Class, stray.NotModified)
	}
}

// The heads are stored as they went on the wire and came back, parseable
// by an HTTP reader, with the response's headers capped.
func TestStoredHeads(t *testing.T) {
	s := newSite(t)
	s.handle("a.test/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("X-Multi", "one")
		w.Header().Add("X-Multi", "two")
		fmt.Fprint(w, htmlPage("Page"))
	})
	s.handle("many.test/page", func(w http.ResponseWriter, r *http.Request) {
		for i := range crawl.MaxStoredHeaders + 50 {
			w.Header().Set(fmt.Sprintf("X-H%03d", i), strings.Repeat("v", 100))
		}
		fmt.Fprint(w, "x")
	})
	s.handle("long.test/page", func(w http.ResponseWriter, r *http.Request) {
		for i := range 10 { // 5 KiB each: three fit in 16 KiB
			w.Header().Set(fmt.Sprintf("A-H%d", i), strings.Repeat("v", 5<<10))
		}
		w.Header().Set("Content-Type", "text/plain") // after them by name: kept
		fmt.Fprint(w, "x")
	})
	f := newFetcher(t, testConfig(s.addr()))
	ctx := context.Background()
	res := f.Fetch(ctx, crawl.Request{URL: "http://a.test/page?q=1", FollowRedirects: true})
	wantClass(t, res, errclass.OK)
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(res.RequestHead)))
	if err != nil {
		t.Fatalf("request head does not parse: %v\n%s", err, res.RequestHead)
	}
	if req.Method != "GET" || req.RequestURI != "/page?q=1" || req.Host != "a.test" || req.UserAgent() != testConfig("").UserAgent {
		t.Errorf("request head: %s %s host %q ua %q", req.Method, req.RequestURI, req.Host, req.UserAgent())
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(res.ResponseHead)), nil)
	if err != nil {
		t.Fatalf("response head does not parse: %v\n%s", err, res.ResponseHead)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html" || strings.Join(resp.Header["X-Multi"], ",") != "one,two" {
		t.Errorf("response head: %d %v", resp.StatusCode, resp.Header)
	}

	// Many short headers hit the line cap; a few long ones the byte cap.
	for _, c := range []struct{ host, wantLines int }{{0, crawl.MaxStoredHeaders}, {1, 6}} {
		host := []string{"many.test", "long.test"}[c.host]
		got := f.Fetch(ctx, crawl.Request{URL: "http://" + host + "/page", FollowRedirects: true})
		wantClass(t, got, errclass.OK)
		if len(got.ResponseHead) > crawl.MaxStoredHeaderBytes {
			t.Errorf("%s: response head of %d bytes, cap %d", host, len(got.ResponseHead), crawl.MaxStoredHeaderBytes)
		}
		if n := bytes.Count(got.ResponseHead, []byte("\r\n")) - 2; n != c.wantLines {
			t.Errorf("%s: %d header lines kept, want %d", host, n, c.wantLines)
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(got.ResponseHead)), nil)
		if err != nil {
			t.Errorf("%s: capped head does not parse: %v", host, err)
		} else if c.host == 1 && resp.Header.Get("Content-Type") != "text/plain" {
			// Three 5 KiB headers fill the cap; the small ones after them
			// by name (Content-Length, Content-Type, Date) are kept.
			t.Errorf("%s: the headers after the long ones were dropped: %v", host, resp.Header)
		}
	}
}
