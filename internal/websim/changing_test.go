package websim

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// changingConfig is testConfig(n) with changing pages on a fake clock.
func changingConfig(n int, clock *fakeClock, share float64) Config {
	cfg := testConfig(n)
	cfg.Changing = ChangingConfig{Enabled: true, Clock: clock.Now, IgnoreConditionalShare: share}
	return cfg
}

// changingRank returns the first rank that serves changing pages and
// ignores conditionals as told.
func changingRank(t *testing.T, s *Sim, ignores bool) int {
	t.Helper()
	for r := 1; r <= s.NumDomains(); r++ {
		if s.ChangingURLs(r) != nil && s.IgnoresConditional(s.Domain(r)) == ignores {
			return r
		}
	}
	t.Fatalf("no changing rank with IgnoresConditional=%v", ignores)
	return 0
}

// changingGet sends method u with the header pairs k1, v1, k2, v2, ...
func changingGet(t *testing.T, c *http.Client, method, u string, kv ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	return resp, body
}

func splitURL(t *testing.T, u string) (host, path string) {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.Host, pu.Path
}

// floorVersion computes floor((t-epoch-phase)/iv) with big integers,
// independently of versionAt.
func floorVersion(epoch time.Time, phase, iv time.Duration, t time.Time) int64 {
	ns := func(x time.Time) *big.Int {
		b := big.NewInt(x.Unix())
		b.Mul(b, big.NewInt(1e9))
		return b.Add(b, big.NewInt(int64(x.Nanosecond())))
	}
	d := new(big.Int).Sub(ns(t), ns(epoch))
	d.Sub(d, big.NewInt(int64(phase)))
	q, m := new(big.Int), new(big.Int)
	q.DivMod(d, big.NewInt(int64(iv)), m) // Euclidean: m >= 0, so q is the floor
	return q.Int64()
}

var versionRe = func(body []byte) (int64, bool) {
	_, rest, ok := bytes.Cut(body, []byte("<p>Version "))
	if !ok {
		return 0, false
	}
	num, _, ok := bytes.Cut(rest, []byte(" "))
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(string(num), 10, 64)
	return v, err == nil
}

// TestChangingVersionBoundaries: with an injected clock, every page's
// version follows floor((t-Epoch-phase)/interval), changes exactly at the
// predicted instants, and the served content, ETag and Last-Modified with it.
func TestChangingVersionBoundaries(t *testing.T) {
	t0 := time.Date(2025, time.March, 7, 12, 34, 56, 789, time.UTC)
	clock := newFakeClock(t0)
	cfg := changingConfig(200, clock, -1)
	s := startSim(t, cfg)
	c := testClient(t, s.Addr(), 5*time.Second)
	urls := s.ChangingURLs(changingRank(t, s, false))
	if len(urls) != DefaultChangingPagesPerHost {
		t.Fatalf("ChangingURLs = %v, want %d URLs", urls, DefaultChangingPagesPerHost)
	}
	epoch := s.Config().Changing.Epoch
	if !epoch.Equal(DefaultChangingEpoch) {
		t.Fatalf("Epoch = %v, want the default %v", epoch, DefaultChangingEpoch)
	}
	for i, u := range urls {
		host, path := splitURL(t, u)
		if path != "/changing/"+strconv.Itoa(i) {
			t.Fatalf("URL %d = %s", i, u)
		}
		clock.Set(t0)
		cp, ok := s.ChangingPageAt(host, path, t0)
		iv, ok2 := s.ChangeInterval(host, path)
		if !ok || !ok2 || cp.URL != u || iv != cp.Interval || !slices.Contains(DefaultChangeIntervals(), iv) {
			t.Fatalf("%s: ChangingPageAt = %+v %v, ChangeInterval = %v %v", u, cp, ok, iv, ok2)
		}
		if cp.Phase < 0 || cp.Phase >= iv {
			t.Fatalf("%s: phase %v outside [0,%v)", u, cp.Phase, iv)
		}
		want := floorVersion(epoch, cp.Phase, iv, t0)
		if cp.Version != want || !cp.Start.Equal(epoch.Add(cp.Phase).Add(time.Duration(want)*iv)) ||
			!cp.Next.Equal(cp.Start.Add(iv)) || cp.Start.After(t0) || !cp.Next.After(t0) {
			t.Fatalf("%s at %v: %+v, want version %d", u, t0, cp, want)
		}

		// Just before, at, and one interval after the next change.
		next := cp.Next
		steps := []struct {
			at   time.Time
			want int64
		}{
			{next.Add(-time.Nanosecond), cp.Version},
			{next, cp.Version + 1},
			{next.Add(iv - time.Nanosecond), cp.Version + 1},
			{next.Add(iv), cp.Version + 2},
		}
		var prevSum [32]byte
		var prevTag string
		for k, st := range steps {
			if v, ok := s.Version(host, path, st.at); !ok || v != st.want || v != floorVersion(epoch, cp.Phase, iv, st.at) {
				t.Fatalf("%s: Version at %v = %d %v, want %d", u, st.at, v, ok, st.want)
			}
			clock.Set(st.at)
			resp, body := changingGet(t, c, "GET", u)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: status %d", u, resp.StatusCode)
			}
			if v, ok := versionRe(body); !ok || v != st.want {
				t.Fatalf("%s at %v: body version %d %v, want %d", u, st.at, v, ok, st.want)
			}
			if !bytes.Contains(body, []byte("<title>"+cp.Title+"</title>")) {
				t.Fatalf("%s: title %q missing", u, cp.Title)
			}
			got, _ := s.ChangingPageAt(host, path, st.at)
			if tag := resp.Header.Get("ETag"); tag != got.ETag || !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) {
				t.Fatalf("%s: ETag %q, want %q", u, tag, got.ETag)
			}
			lm, err := http.ParseTime(resp.Header.Get("Last-Modified"))
			if err != nil || !lm.Equal(got.Start.Truncate(time.Second)) || !lm.Equal(got.LastModified) {
				t.Fatalf("%s: Last-Modified %q, want %v", u, resp.Header.Get("Last-Modified"), got.Start)
			}
			if d, err := http.ParseTime(resp.Header.Get("Date")); err != nil || !d.Equal(st.at.Truncate(time.Second)) {
				t.Fatalf("%s: Date %q, want the injected clock %v", u, resp.Header.Get("Date"), st.at)
			}
			sum := sha256.Sum256(body)
			if k > 0 {
				sameVersion := st.want == steps[k-1].want
				if (sum == prevSum) != sameVersion || (got.ETag == prevTag) != sameVersion {
					t.Fatalf("%s: step %d (version %d after %d): content/ETag unchanged=%v/%v",
						u, k, st.want, steps[k-1].want, sum == prevSum, got.ETag == prevTag)
				}
			}
			prevSum, prevTag = sum, got.ETag
		}
	}

	// The same configuration serves the same bytes; another seed other pages.
	clock.Set(t0)
	other := startSim(t, cfg)
	oc := testClient(t, other.Addr(), 5*time.Second)
	_, a := changingGet(t, c, "GET", urls[0])
	_, b := changingGet(t, oc, "GET", urls[0])
	if !bytes.Equal(a, b) {
		t.Fatal("two Sims of one configuration serve different content")
	}
	cfg2 := cfg
	cfg2.Seed = 2
	s2 := newSim(t, cfg2)
	differ := false
	for r := 1; r <= 200; r++ {
		u1, u2 := s.ChangingURLs(r), s2.ChangingURLs(r)
		if u1 == nil || u2 == nil {
			continue
		}
		for i := range u1 {
			h1, p := splitURL(t, u1[i])
			h2, _ := splitURL(t, u2[i])
			a, _ := s.ChangingPageAt(h1, p, t0)
			b, _ := s2.ChangingPageAt(h2, p, t0)
			differ = differ || a.Interval != b.Interval || a.Phase != b.Phase
		}
	}
	if !differ {
		t.Fatal("seeds 1 and 2 draw the same intervals")
	}
}

// TestChangingIntervalShares: pages draw their interval uniformly from
// Intervals, and versions are the same for equal times whatever the clock.
func TestChangingIntervalShares(t *testing.T) {
	cfg := cfgN(3000, 1)
	cfg.Changing = ChangingConfig{Enabled: true, Intervals: []time.Duration{time.Minute, time.Hour, time.Hour}}
	s := newSim(t, cfg)
	counts := map[time.Duration]int{}
	total := 0
	phases := 0.0 // sum of Phase/Interval
	for r := 1; r <= 3000; r++ {
		for _, u := range s.ChangingURLs(r) {
			host, path := splitURL(t, u)
			iv, ok := s.ChangeInterval(host, path)
			cp, ok2 := s.ChangingPageAt(host, path, time.Now())
			if !ok || !ok2 || cp.Interval != iv {
				t.Fatalf("%s: no interval", u)
			}
			counts[iv]++
			total++
			phases += float64(cp.Phase) / float64(iv)
		}
	}
	// Phases spread over [0, interval): pages of one interval do not all
	// change at the same instant.
	if m := phases / float64(total); math.Abs(m-0.5) > 0.02 {
		t.Errorf("mean phase = %.3f intervals, want ~0.5", m)
	}
	if total < 10000 || len(counts) != 2 {
		t.Fatalf("%d pages, intervals %v", total, counts)
	}
	if f := float64(counts[time.Hour]) / float64(total); math.Abs(f-2.0/3) > 0.02 {
		t.Errorf("share of 1h (listed twice of three) = %.3f, want ~0.667", f)
	}
}

// TestChangingConditional: If-None-Match and If-Modified-Since are answered
// per RFC 9110 by a host that honours them, and a 304 costs no body.
func TestChangingConditional(t *testing.T) {
	t0 := time.Date(2025, time.June, 1, 0, 0, 0, 0, time.UTC)
	clock := newFakeClock(t0)
	s := startSim(t, changingConfig(200, clock, -1))
	c := testClient(t, s.Addr(), 5*time.Second)
	u := s.ChangingURLs(changingRank(t, s, false))[1]
	host, path := splitURL(t, u)
	if s.IgnoresConditional(host) {
		t.Fatal("share < 0: a host ignores conditionals")
	}
	cp, _ := s.ChangingPageAt(host, path, t0)
	etag, lm := cp.ETag, cp.LastModified.Format(http.TimeFormat)

	resp, full := changingGet(t, c, "GET", u)
	if resp.StatusCode != 200 || len(full) == 0 || resp.Header.Get("ETag") != etag || resp.Header.Get("Last-Modified") != lm {
		t.Fatalf("plain GET: %d, %d bytes, ETag %q LM %q; want 200, %s, %s",
			resp.StatusCode, len(full), resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"), etag, lm)
	}
	if s.ChangingBodyBytes() != int64(len(full)) || s.NotModifiedResponses() != 0 {
		t.Fatalf("after one 200: body bytes %d (want %d), 304s %d", s.ChangingBodyBytes(), len(full), s.NotModifiedResponses())
	}
	weak := "W/" + etag
	cases := []struct {
		name   string
		method string
		hdr    []string
		want   int
	}{
		{"INM match", "GET", []string{"If-None-Match", etag}, 304},
		{"INM weak", "GET", []string{"If-None-Match", weak}, 304},
		{"INM list", "GET", []string{"If-None-Match", `"nope", W/"x,y" ,` + etag}, 304},
		{"INM two fields", "GET", []string{"If-None-Match", `"nope"`, "If-None-Match", etag}, 304},
		{"INM star", "GET", []string{"If-None-Match", "*"}, 304},
		{"INM other", "GET", []string{"If-None-Match", `"nope"`}, 200},
		{"INM unquoted", "GET", []string{"If-None-Match", strings.Trim(etag, `"`)}, 200},
		{"INM prefix", "GET", []string{"If-None-Match", etag[:len(etag)-2] + `"`}, 200},
		{"INM beats IMS", "GET", []string{"If-None-Match", `"nope"`, "If-Modified-Since", lm}, 200},
		{"IMS equal", "GET", []string{"If-Modified-Since", lm}, 304},
		{"IMS later", "GET", []string{"If-Modified-Since", cp.LastModified.Add(time.Hour).Format(http.TimeFormat)}, 304},
		{"IMS earlier", "GET", []string{"If-Modified-Since", cp.LastModified.Add(-time.Second).Format(http.TimeFormat)}, 200},
		{"IMS invalid", "GET", []string{"If-Modified-Since", "yesterday"}, 200},
		{"IMS twice", "GET", []string{"If-Modified-Since", lm, "If-Modified-Since", lm}, 200},
		{"IMS RFC 850", "GET", []string{"If-Modified-Since", cp.LastModified.Format(time.RFC850)}, 304},
		{"HEAD match", "HEAD", []string{"If-None-Match", etag}, 304},
		{"HEAD plain", "HEAD", nil, 200},
		{"POST match", "POST", []string{"If-None-Match", etag}, 200},
	}
	n304 := int64(0)
	bodyBytes := int64(len(full))
	for _, tc := range cases {
		resp, body := changingGet(t, c, tc.method, u, tc.hdr...)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
			continue
		}
		if resp.Header.Get("ETag") != etag || resp.Header.Get("Last-Modified") != lm {
			t.Errorf("%s: ETag %q Last-Modified %q, want %s %s", tc.name, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"), etag, lm)
		}
		switch {
		case tc.want == 304:
			n304++
			if len(body) != 0 {
				t.Errorf("%s: 304 with a %d-byte body", tc.name, len(body))
			}
		case tc.method == "HEAD":
			if len(body) != 0 || resp.ContentLength != int64(len(full)) {
				t.Errorf("%s: HEAD body %d bytes, Content-Length %d", tc.name, len(body), resp.ContentLength)
			}
		default:
			bodyBytes += int64(len(body))
			if !bytes.Equal(body, full) {
				t.Errorf("%s: 200 body differs from the first one", tc.name)
			}
		}
		if got := s.NotModifiedResponses(); got != n304 {
			t.Errorf("%s: NotModifiedResponses = %d, want %d", tc.name, got, n304)
		}
		if got := s.ChangingBodyBytes(); got != bodyBytes {
			t.Errorf("%s: ChangingBodyBytes = %d, want %d (a 304 costs no body)", tc.name, got, bodyBytes)
		}
	}

	// Once the page changed, the old validators no longer match.
	clock.Set(cp.Next)
	next, _ := s.ChangingPageAt(host, path, cp.Next)
	for _, hdr := range [][]string{{"If-None-Match", etag}, {"If-Modified-Since", lm}} {
		resp, body := changingGet(t, c, "GET", u, hdr...)
		if resp.StatusCode != 200 || bytes.Equal(body, full) || resp.Header.Get("ETag") != next.ETag {
			t.Errorf("%s after the change: %d, same body %v, ETag %q (want 200, new body, %s)",
				hdr[0], resp.StatusCode, bytes.Equal(body, full), resp.Header.Get("ETag"), next.ETag)
		}
	}
	resp, _ = changingGet(t, c, "GET", u, "If-None-Match", next.ETag)
	if resp.StatusCode != 304 {
		t.Errorf("new ETag: status %d, want 304", resp.StatusCode)
	}

	// Every request was counted like any other, 304s included.
	want := int64(1 + len(cases) + 3)
	if got := s.Requests(host, path); got != want {
		t.Errorf("Requests(%s, %s) = %d, want %d", host, path, got, want)
	}
	if got := s.ChangingResponses(); got != want {
		t.Errorf("ChangingResponses = %d, want %d", got, want)
	}
}

// TestChangingIgnoringHosts: hosts drawn to ignore conditionals answer 200
// in full whatever the validators, with ETag and Last-Modified.
func TestChangingIgnoringHosts(t *testing.T) {
	t0 := time.Date(2025, time.June, 1, 0, 0, 0, 0, time.UTC)
	for _, share := range []float64{1, 0} { // 1: all; 0: the default 0.2
		clock := newFakeClock(t0)
		s := startSim(t, changingConfig(200, clock, share))
		c := testClient(t, s.Addr(), 5*time.Second)
		u := s.ChangingURLs(changingRank(t, s, true))[0]
		host, path := splitURL(t, u)
		cp, _ := s.ChangingPageAt(host, path, t0)
		lm := cp.LastModified.Format(http.TimeFormat)
		_, full := changingGet(t, c, "GET", u)
		for _, hdr := range [][]string{{"If-None-Match", cp.ETag}, {"If-None-Match", "*"}, {"If-Modified-Since", lm}} {
			resp, body := changingGet(t, c, "GET", u, hdr...)
			if resp.StatusCode != 200 || !bytes.Equal(body, full) || resp.Header.Get("ETag") != cp.ETag ||
				resp.Header.Get("Last-Modified") != lm {
				t.Errorf("share %v, %s: %d, %d bytes, ETag %q, LM %q; want 200 in full with validators",
					share, hdr[0], resp.StatusCode, len(body), resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"))
			}
		}
		if s.NotModifiedResponses() != 0 || s.ChangingBodyBytes() != 4*int64(len(full)) {
			t.Errorf("share %v: %d 304s, %d body bytes; want 0 and %d", share, s.NotModifiedResponses(), s.ChangingBodyBytes(), 4*len(full))
		}
		if share == 0 {
			// The default share also has honouring hosts.
			u := s.ChangingURLs(changingRank(t, s, false))[0]
			h, p := splitURL(t, u)
			cp, _ := s.ChangingPageAt(h, p, t0)
			if resp, _ := changingGet(t, c, "GET", u, "If-None-Match", cp.ETag); resp.StatusCode != 304 {
				t.Errorf("honouring host: status %d, want 304", resp.StatusCode)
			}
		}
	}
}

// TestChangingIgnoreShare: the share of changing hosts that ignore
// conditionals is near the configured one.
func TestChangingIgnoreShare(t *testing.T) {
	const n = 20000
	for _, tc := range []struct{ share, want float64 }{{0, 0.2}, {0.5, 0.5}, {-1, 0}, {1, 1}, {0.05, 0.05}} {
		cfg := cfgN(n, 7)
		cfg.Changing = ChangingConfig{Enabled: true, IgnoreConditionalShare: tc.share}
		s := newSim(t, cfg)
		changing, ignoring := 0, 0
		for r := 1; r <= n; r++ {
			d := s.Domain(r)
			ign := s.IgnoresConditional(d)
			if s.ChangingURLs(r) == nil {
				if ign {
					t.Fatalf("rank %d serves no changing page but IgnoresConditional", r)
				}
				continue
			}
			changing++
			if ign {
				ignoring++
			}
			if s.IgnoresConditional("www." + d) {
				t.Fatalf("www alias of rank %d ignores conditionals: it serves no changing page", r)
			}
		}
		got := float64(ignoring) / float64(changing)
		if changing < n/2 || math.Abs(got-tc.want) > 0.015 {
			t.Errorf("share %v: %d of %d changing hosts ignore (%.4f), want ~%.2f", tc.share, ignoring, changing, got, tc.want)
		}
	}
}

// TestChangingEligibility: exactly the domains with an ok home page and a
// robots.txt that allows /changing/ serve changing pages, on the bare
// domain only, at exactly the listed paths.
func TestChangingEligibility(t *testing.T) {
	clock := newFakeClock(time.Date(2025, time.June, 1, 0, 0, 0, 0, time.UTC))
	cfg := changingConfig(2000, clock, 0)
	cfg.Changing.PagesPerHost = 3
	cfg.Sites = SiteConfig{Fraction: 0.5, PagesMean: 5}
	s := startSim(t, cfg)
	c := testClient(t, s.Addr(), 5*time.Second)
	var site, plain, notOK, masked int
	for r := 1; r <= 2000; r++ {
		p := s.Profile(r)
		want := p.Home == HomeOK && p.Robots != RobotsDisallowAll && p.Robots != RobotsServerError && p.Robots != RobotsHang
		urls := s.ChangingURLs(r)
		if (urls != nil) != want {
			t.Fatalf("rank %d (%v, %v): ChangingURLs = %v", r, p.Home, p.Robots, urls)
		}
		for i, u := range urls {
			if u != fmt.Sprintf("http://%s/changing/%d", p.Domain, i) || len(urls) != 3 {
				t.Fatalf("rank %d: ChangingURLs = %v", r, urls)
			}
		}
		switch {
		case want && p.Site && site == 0:
			site = r
		case want && !p.Site && plain == 0:
			plain = r
		case p.Home == HomeNotFound && notOK == 0:
			notOK = r
		case p.Home == HomeOK && p.Robots == RobotsDisallowAll && masked == 0:
			masked = r
		}
		if pp := s.profile(r); want && s.robotsForbids(&pp, "/changing/0") {
			t.Fatalf("rank %d: robots.txt forbids /changing/0", r)
		}
	}
	if site == 0 || plain == 0 || notOK == 0 || masked == 0 {
		t.Fatalf("missing a kind: site %d plain %d not_found %d disallow_all %d", site, plain, notOK, masked)
	}
	status := func(u string) int {
		resp, _ := changingGet(t, c, "GET", u)
		return resp.StatusCode
	}
	for _, r := range []int{site, plain} {
		d := s.Domain(r)
		if got := status("http://" + d + "/changing/2"); got != 200 {
			t.Errorf("%s/changing/2: %d, want 200", d, got)
		}
		for _, path := range []string{"/changing/3", "/changing/00", "/changing/", "/changing/-1", "/changing/0?x=1"} {
			if got := status("http://" + d + path); got != 404 {
				t.Errorf("%s%s: %d, want 404", d, path, got)
			}
		}
		if _, ok := s.ChangeInterval(d, "/changing/3"); ok {
			t.Errorf("%s: ChangeInterval of /changing/3 known", d)
		}
		if _, ok := s.ChangeInterval("www."+d, "/changing/0"); ok {
			t.Errorf("www.%s: ChangeInterval known", d)
		}
	}
	if got := status("http://www." + s.Domain(plain) + "/changing/0"); got != 404 {
		t.Errorf("www alias of a plain domain: %d, want 404", got)
	}
	if got := status("http://www." + s.Domain(site) + "/changing/0"); got != 301 {
		t.Errorf("www alias of a site: %d, want the site's 301", got)
	}
	for _, r := range []int{notOK, masked} {
		d := s.Domain(r)
		if got := status("http://" + d + "/changing/0"); got != 404 {
			t.Errorf("%s (no changing pages): %d, want 404", d, got)
		}
		if _, ok := s.Version(d, "/changing/0", clock.Now()); ok {
			t.Errorf("%s: Version known", d)
		}
	}
}

// TestChangingDisabled: without Changing nothing changes: the paths answer
// 404, the ground truths and the other pages are byte for byte the same.
func TestChangingDisabled(t *testing.T) {
	off := cfgN(1000, 1)
	off.Sites = SiteConfig{Fraction: 0.3, PagesMean: 6}
	on := off
	on.Changing = ChangingConfig{Enabled: true, Clock: newFakeClock(time.Unix(1.7e9, 0)).Now}
	a, b := newSim(t, off), newSim(t, on)
	if !reflect.DeepEqual(a.Config().Changing, ChangingConfig{}) {
		t.Fatalf("disabled Changing filled: %+v", a.Config().Changing)
	}
	if !bytes.Equal(groundTruth(t, a), groundTruth(t, b)) {
		t.Fatal("enabling changing pages changed the ground truth")
	}
	pol := DefaultCrawlPolicy()
	pol.Sitemaps = true
	var ta, tb bytes.Buffer
	if err := a.WriteCrawlTruth(&ta, pol); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteCrawlTruth(&tb, pol); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ta.Bytes(), tb.Bytes()) {
		t.Fatal("enabling changing pages changed the crawl truth")
	}
	checked := 0
	for r := 1; r <= 1000; r++ {
		p := a.Profile(r)
		if b.ChangingURLs(r) == nil {
			continue
		}
		if a.ChangingURLs(r) != nil || a.IgnoresConditional(p.Domain) {
			t.Fatalf("rank %d: changing ground truth while disabled", r)
		}
		if _, ok := a.ChangeInterval(p.Domain, "/changing/0"); ok {
			t.Fatalf("rank %d: ChangeInterval while disabled", r)
		}
		if _, ok := a.Version(p.Domain, "/changing/0", time.Now()); ok {
			t.Fatalf("rank %d: Version while disabled", r)
		}
		if p.Robots == RobotsSlow || p.Robots == RobotsHang {
			continue
		}
		for _, path := range []string{"/", "/about", "/robots.txt", "/s0/p0.html"} {
			x, y := serve(a, "http://"+p.Domain+path), serve(b, "http://"+p.Domain+path)
			if x.Code != y.Code || x.Body.String() != y.Body.String() {
				t.Fatalf("rank %d %s: %d without, %d with changing pages", r, path, x.Code, y.Code)
			}
		}
		if x := serve(a, "http://"+p.Domain+"/changing/0"); x.Code != 404 {
			t.Fatalf("rank %d: /changing/0 answers %d while disabled", r, x.Code)
		}
		if y := serve(b, "http://"+p.Domain+"/changing/0"); y.Code != 200 {
			t.Fatalf("rank %d: /changing/0 answers %d while enabled", r, y.Code)
		}
		checked++
	}
	if checked < 500 {
		t.Fatalf("only %d ranks compared", checked)
	}
	if a.ChangingResponses() != 0 || a.NotModifiedResponses() != 0 || a.ChangingBodyBytes() != 0 {
		t.Fatal("changing counters moved while disabled")
	}
}

// TestChangingDisabledOverHTTP: with the default configuration a served
// ok domain answers /changing/0 with 404 over the wire.
func TestChangingDisabledOverHTTP(t *testing.T) {
	s := startSim(t, testConfig(100))
	c := testClient(t, s.Addr(), 5*time.Second)
	d := s.Domain(firstRank(t, s, homeIs(HomeOK)))
	resp, _ := changingGet(t, c, "GET", "http://"+d+"/changing/0")
	if resp.StatusCode != 404 || resp.Header.Get("ETag") != "" || resp.Header.Get("Last-Modified") != "" {
		t.Fatalf("/changing/0 while disabled: %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
}

// TestChangingConfig: validation and defaults.
func TestChangingConfig(t *testing.T) {
	bad := []ChangingConfig{
		{Enabled: true, IgnoreConditionalShare: math.NaN()},
		{Enabled: true, IgnoreConditionalShare: 1.01},
		{Enabled: true, PagesPerHost: -1},
		{Enabled: true, PagesPerHost: MaxChangingPagesPerHost + 1},
		{Enabled: true, Intervals: []time.Duration{time.Minute, 0}},
		{Enabled: true, Intervals: []time.Duration{-time.Minute}},
		{Enabled: true, Intervals: []time.Duration{999 * time.Millisecond}},
		{Enabled: true, Intervals: []time.Duration{MaxChangeInterval + 1}},
		{IgnoreConditionalShare: 2}, // validated even when off
	}
	for _, c := range bad {
		cfg := cfgN(10, 1)
		cfg.Changing = c
		if _, err := New(cfg); err == nil {
			t.Errorf("New accepted %+v", c)
		}
	}
	cfg := cfgN(10, 1)
	ivs := []time.Duration{time.Second, MaxChangeInterval}
	cfg.Changing = ChangingConfig{Enabled: true, Intervals: ivs}
	s := newSim(t, cfg)
	got := s.Config().Changing
	ivs[0] = time.Hour // the Sim keeps its own copy
	if got.Clock == nil || !got.Epoch.Equal(DefaultChangingEpoch) || got.PagesPerHost != DefaultChangingPagesPerHost ||
		got.IgnoreConditionalShare != DefaultIgnoreConditionalShare || !slices.Equal(s.Config().Changing.Intervals, []time.Duration{time.Second, MaxChangeInterval}) {
		t.Fatalf("defaults: %+v", got)
	}
	cfg.Changing = ChangingConfig{Enabled: true}
	if got := newSim(t, cfg).Config().Changing.Intervals; !slices.Equal(got, DefaultChangeIntervals()) {
		t.Fatalf("default intervals %v", got)
	}
}

// TestChangingVersionAt checks versionAt against big-integer arithmetic,
// before the epoch and across boundaries.
func TestChangingVersionAt(t *testing.T) {
	epoch := DefaultChangingEpoch
	for _, iv := range []time.Duration{time.Second, 7 * time.Second, time.Hour, MaxChangeInterval} {
		for _, phase := range []time.Duration{0, 1, iv / 3, iv - 1} {
			offs := []time.Duration{-200 * 365 * 24 * time.Hour, -iv - phase, -1, 0, 1, phase - 1, phase, phase + iv, 250 * 365 * 24 * time.Hour}
			if iv <= time.Hour {
				offs = append(offs, 5*iv+phase-1, 5*iv+phase, -5*iv+phase-1)
			}
			for _, off := range offs {
				at := epoch.Add(off)
				v, start := versionAt(epoch, iv, phase, at)
				want := floorVersion(epoch, phase, iv, at)
				if v != want || start.After(at) || !start.Add(iv).After(at) || floorVersion(epoch, phase, iv, start) != v {
					t.Fatalf("iv %v phase %v at epoch%+v: version %d start %v, want %d", iv, phase, off, v, start, want)
				}
			}
		}
	}
}

func TestChangingETagList(t *testing.T) {
	const tag = `"p1-v2-00ff"`
	for _, tc := range []struct {
		list string
		want bool
	}{
		{tag, true}, {"W/" + tag, true}, {" " + tag + " ", true}, {`"a", ` + tag, true}, {`"a",` + tag + `,"b"`, true},
		{"*", true}, {`"a", *`, true}, {`"a,b", ` + tag, true},
		{"", false}, {`"a"`, false}, {`p1-v2-00ff`, false}, {`"p1-v2-00ff`, false}, {tag + `x`, false},
		{`w/` + tag, false}, {`"a" junk ` + tag, false}, {`"p1-v2-00f"`, false},
	} {
		if got := etagListMatches(tc.list, tag); got != tc.want {
			t.Errorf("etagListMatches(%q) = %v, want %v", tc.list, got, tc.want)
		}
	}
}

// TestChangingConcurrent: concurrent requests while the clock moves are
// each self-consistent, and counted like any other request (requests per
// host and path, the timeline).
func TestChangingConcurrent(t *testing.T) {
	t0 := time.Date(2025, time.June, 1, 0, 0, 0, 0, time.UTC)
	clock := newFakeClock(t0)
	cfg := changingConfig(200, clock, -1)
	cfg.TimelineSize = 1000
	s := startSim(t, cfg)
	c := testClient(t, s.Addr(), 5*time.Second)
	urls := s.ChangingURLs(changingRank(t, s, false))
	host, _ := splitURL(t, urls[0])
	const workers, per = 8, 25
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			clock.Set(t0.Add(time.Duration(k) * 17 * time.Second))
			time.Sleep(100 * time.Microsecond)
		}
	})
	var mu sync.Mutex
	var errs []string
	var n304, bytes200 int64
	var workersWG sync.WaitGroup
	for w := range workers {
		workersWG.Go(func() {
			etag := ""
			u := urls[w%len(urls)]
			for k := range per {
				req, _ := http.NewRequest("GET", u, nil)
				if k%2 == 1 && etag != "" {
					req.Header.Set("If-None-Match", etag)
				}
				resp, err := c.Do(req)
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				tag := resp.Header.Get("ETag")
				mu.Lock()
				switch resp.StatusCode {
				case 304:
					n304++
					if len(body) != 0 || tag != etag {
						errs = append(errs, fmt.Sprintf("304 with %d bytes, ETag %q for %q", len(body), tag, etag))
					}
				case 200:
					bytes200 += int64(len(body))
					v, ok := versionRe(body)
					if !ok || !strings.Contains(tag, "-v"+strconv.FormatInt(v, 10)+"-") {
						errs = append(errs, fmt.Sprintf("body version %d, ETag %q", v, tag))
					}
				default:
					errs = append(errs, fmt.Sprintf("status %d", resp.StatusCode))
				}
				mu.Unlock()
				etag = tag
			}
		})
	}
	workersWG.Wait()
	close(stop)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d errors, first: %s", len(errs), errs[0])
	}
	var total int64
	for _, u := range urls {
		_, path := splitURL(t, u)
		total += s.Requests(host, path)
	}
	if total != workers*per || s.ChangingResponses() != total || s.NotModifiedResponses() != n304 || s.ChangingBodyBytes() != bytes200 {
		t.Fatalf("requests %d, responses %d, 304s %d (counted %d), body bytes %d (counted %d); want %d requests",
			total, s.ChangingResponses(), s.NotModifiedResponses(), n304, s.ChangingBodyBytes(), bytes200, workers*per)
	}
	if n304 == 0 {
		t.Error("no 304 at all")
	}
	spans := 0
	for _, sp := range s.HostTimeline(host) {
		if strings.HasPrefix(sp.Path, ChangingPrefix) {
			spans++
		}
	}
	if spans != workers*per {
		t.Errorf("timeline has %d changing spans, want %d", spans, workers*per)
	}
}
