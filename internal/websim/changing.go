package websim

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// This file is the changing pages (see the package documentation): pages
// whose content changes on a deterministic schedule, served with ETag and
// Last-Modified and answering conditional requests, for testing revisits
// and conditional GET.

// Changing-page defaults, applied by [New] to zero fields when
// [ChangingConfig.Enabled] is set.
const (
	// DefaultChangingPagesPerHost is the number of changing pages per domain.
	DefaultChangingPagesPerHost = 5
	// MaxChangingPagesPerHost is the largest PagesPerHost accepted.
	MaxChangingPagesPerHost = 10000
	// DefaultIgnoreConditionalShare is the share of domains that ignore
	// conditional requests.
	DefaultIgnoreConditionalShare = 0.2
	// MinChangeInterval and MaxChangeInterval bound every change interval.
	// At least a second keeps Last-Modified (one-second resolution)
	// strictly increasing from one version to the next.
	MinChangeInterval = time.Second
	MaxChangeInterval = 100 * 365 * 24 * time.Hour

	// ChangingPrefix starts the path of every changing page:
	// /changing/0 .. /changing/<PagesPerHost-1>.
	ChangingPrefix = "/changing/"
)

// DefaultChangingEpoch is the Epoch used when [ChangingConfig.Epoch] is
// zero: 2020-01-01T00:00:00Z, fixed so that versions are reproducible.
var DefaultChangingEpoch = time.Date(2020, time.January, 1, 0, 0, 0, 0, time.UTC)

// DefaultChangeIntervals returns the intervals used when
// [ChangingConfig.Intervals] is empty: 1m, 5m, 30m, 2h and 24h.
func DefaultChangeIntervals() []time.Duration {
	return []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 24 * time.Hour}
}

// ChangingConfig adds changing pages to every domain that can serve them
// (see the package documentation). The zero value serves none: every
// response, [Sim.Expect] and the crawl truth are exactly as without it.
// Zero fields are replaced by their defaults in [New] when Enabled is set.
type ChangingConfig struct {
	// Enabled serves the changing pages. Off by default.
	Enabled bool
	// Clock tells the current time, which decides the served versions;
	// nil is time.Now. Tests inject a clock to move time at will.
	Clock func() time.Time
	// Epoch is the time change counting starts from (default
	// [DefaultChangingEpoch]). Versions are computed for times within
	// about 290 years of it.
	Epoch time.Time
	// Intervals are the change intervals pages draw from, uniformly per
	// page (repeat a value to weight it); default
	// [DefaultChangeIntervals]. Each must be in
	// [[MinChangeInterval], [MaxChangeInterval]].
	Intervals []time.Duration
	// IgnoreConditionalShare is the share of changing domains, drawn per
	// rank, that ignore If-None-Match and If-Modified-Since and always
	// answer 200 in full. 0 is the default (0.2); a negative value makes
	// every domain honour them; at most 1.
	IgnoreConditionalShare float64
	// PagesPerHost is the number of changing pages of each changing
	// domain (default 5, at most [MaxChangingPagesPerHost]).
	PagesPerHost int
}

// withDefaults validates c and, when it is enabled, fills zero fields.
func (c *ChangingConfig) withDefaults() error {
	switch {
	case math.IsNaN(c.IgnoreConditionalShare) || c.IgnoreConditionalShare > 1:
		return fmt.Errorf("changing: IgnoreConditionalShare %v: must be at most 1 (negative: none)", c.IgnoreConditionalShare)
	case c.PagesPerHost < 0 || c.PagesPerHost > MaxChangingPagesPerHost:
		return fmt.Errorf("changing: PagesPerHost %d: must be in [1,%d] (0: default %d)",
			c.PagesPerHost, MaxChangingPagesPerHost, DefaultChangingPagesPerHost)
	}
	for _, iv := range c.Intervals {
		if iv < MinChangeInterval || iv > MaxChangeInterval {
			return fmt.Errorf("changing: interval %v: must be in [%v,%v]", iv, MinChangeInterval, MaxChangeInterval)
		}
	}
	if !c.Enabled {
		return nil
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Epoch.IsZero() {
		c.Epoch = DefaultChangingEpoch
	}
	if len(c.Intervals) == 0 {
		c.Intervals = DefaultChangeIntervals()
	} else {
		c.Intervals = append([]time.Duration(nil), c.Intervals...) // the caller may reuse its slice
	}
	if c.IgnoreConditionalShare == 0 {
		c.IgnoreConditionalShare = DefaultIgnoreConditionalShare
	}
	if c.PagesPerHost == 0 {
		c.PagesPerHost = DefaultChangingPagesPerHost
	}
	return nil
}

// Salts of changing-page decisions, clear of the other salts' ranges so
// that adding them changed no existing universe.
const (
	saltChangePage uint64 = iota + 200
	saltChangeIgnore
)

// changingCounters count the responses of changing pages.
type changingCounters struct {
	responses   atomic.Int64 // 200 and 304
	notModified atomic.Int64 // 304
	bodyBytes   atomic.Int64 // body bytes written (HEAD and 304: none)
}

// ChangingPage describes one changing page at one moment.
type ChangingPage struct {
	// URL is the page's absolute URL, http://<domain>/changing/<i>.
	URL string
	// Title is the page's title, the same for every version.
	Title string
	// Interval is the page's change interval, Phase its offset in
	// [0, Interval): version v is current from Epoch+Phase+v*Interval on.
	Interval time.Duration
	Phase    time.Duration
	// Version is the current version: floor((t-Epoch-Phase)/Interval),
	// negative before Epoch+Phase.
	Version int64
	// Start is when Version appeared, Next when the next one appears
	// (Start+Interval).
	Start, Next time.Time
	// ETag is the strong, quoted entity tag of Version.
	ETag string
	// LastModified is Start truncated to seconds, in UTC: the value of the
	// Last-Modified header.
	LastModified time.Time
}

// servesChanging reports whether a domain of profile p serves changing
// pages: a plain 200 home page (home kind ok, site or not) and a robots.txt
// that allows /changing/ (every robots kind but disallow_all, server_error
// and hang).
func servesChanging(p *profile) bool {
	return p.home == HomeOK && !p.robots.masksHome()
}

// parseChangingPath parses /changing/<i> (decimal, no leading zeros).
func parseChangingPath(path string) (int, bool) {
	rest, ok := strings.CutPrefix(path, ChangingPrefix)
	if !ok {
		return 0, false
	}
	return atoiStrict(rest)
}

// changingIndex returns the changing page a request for path on a host of
// profile p asks for. Only the bare domain serves them; the www alias
// answers what it answers without changing pages.
func (s *Sim) changingIndex(p *profile, www bool, path string) (int, bool) {
	c := &s.cfg.Changing
	if !c.Enabled || www || !servesChanging(p) {
		return 0, false
	}
	i, ok := parseChangingPath(path)
	return i, ok && i < c.PagesPerHost
}

// changingHost returns the profile of host when it serves changing pages.
func (s *Sim) changingHost(host string) (profile, bool) {
	if !s.cfg.Changing.Enabled {
		return profile{}, false
	}
	rank, www, tld, ok := s.parseHost(normalizeHost(host))
	if !ok || www || tld != ".test" {
		return profile{}, false
	}
	p := s.profile(rank)
	return p, servesChanging(&p)
}

// pageHash is the deterministic draw of page i of rank.
func (s *Sim) pageHash(rank, i int) uint64 {
	return mix64(s.hash(rank, saltChangePage) ^ mix64(uint64(i)*0x9e3779b97f4a7c15+1))
}

// changeSchedule returns the interval and phase of page i of rank.
func (s *Sim) changeSchedule(rank, i int) (iv, phase time.Duration) {
	ivs := s.cfg.Changing.Intervals
	h := s.pageHash(rank, i)
	iv = ivs[h%uint64(len(ivs))]
	phase = time.Duration(mix64(h^0x243f6a8885a308d3) % uint64(iv))
	return iv, phase
}

// versionAt returns the version current at t and when it started.
func versionAt(epoch time.Time, iv, phase time.Duration, t time.Time) (v int64, start time.Time) {
	d := t.Sub(epoch) // saturates beyond ~290 years
	q, r := int64(d/iv), d%iv
	r -= phase // in (-2iv, iv): no overflow, iv <= MaxChangeInterval
	for r < 0 {
		r += iv
		q--
	}
	return q, t.Add(-r)
}

// versionHash is the deterministic draw of a version's content.
func versionHash(ph uint64, v int64) uint64 {
	return mix64(ph ^ mix64(uint64(v)*0xd1b54a32d192ed03+0x632be59bd9b4e019))
}

const titleChanging = "Changing page "

func appendChangingTitle(b []byte, domain string, i int) []byte {
	b = append(b, titleChanging...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, " of "...)
	return append(b, domain...)
}

func appendETag(b []byte, i int, v int64, vh uint64) []byte {
	b = append(b, `"p`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, "-v"...)
	b = strconv.AppendInt(b, v, 10)
	b = append(b, '-')
	b = appendHex16(b, vh)
	return append(b, '"')
}

func appendHex16(b []byte, x uint64) []byte {
	const digits = "0123456789abcdef"
	for sh := 60; sh >= 0; sh -= 4 {
		b = append(b, digits[(x>>uint(sh))&15])
	}
	return b
}

var changingFiller = []byte("<p>This page of a synthetic web changes on a fixed schedule: a crawler that " +
	"revisits it sees a new version once per interval, and the same version, with the same " +
	"validators, in between.</p>\n")

// appendChangingPage renders version v of page i (a leaf: no links).
func appendChangingPage(b []byte, domain string, i int, v int64, iv time.Duration, vh uint64) []byte {
	b = append(b, pageHeadUTF8...)
	b = appendChangingTitle(b, domain, i)
	b = append(b, pageMid...)
	b = appendChangingTitle(b, domain, i)
	b = append(b, "</h1>\n<p>Version "...)
	b = strconv.AppendInt(b, v, 10)
	b = append(b, " of this page; a new version appears every "...)
	b = append(b, iv.String()...)
	b = append(b, ".</p>\n<p>Revision "...)
	b = appendHex16(b, vh)
	b = append(b, ".</p>\n<ul>\n"...)
	n := 3 + int(vh%6)
	for k, h := 0, vh; k < n; k++ {
		h = mix64(h + 0x9e3779b97f4a7c15)
		b = append(b, "<li>"...)
		b = append(b, words[h%uint64(len(words))]...)
		b = append(b, "</li>\n"...)
	}
	b = append(b, "</ul>\n"...)
	b = append(b, changingFiller...)
	return append(b, pageTail...)
}

// changingPage describes page i of p at t.
func (s *Sim) changingPage(p *profile, i int, t time.Time) ChangingPage {
	c := &s.cfg.Changing
	iv, phase := s.changeSchedule(p.rank, i)
	v, start := versionAt(c.Epoch, iv, phase, t)
	vh := versionHash(s.pageHash(p.rank, i), v)
	d := p.domain()
	var buf [128]byte
	title := string(appendChangingTitle(buf[:0], d, i))
	return ChangingPage{
		URL:          "http://" + d + ChangingPrefix + strconv.Itoa(i),
		Title:        title,
		Interval:     iv,
		Phase:        phase,
		Version:      v,
		Start:        start,
		Next:         start.Add(iv),
		ETag:         string(appendETag(buf[:0], i, v, vh)),
		LastModified: start.UTC().Truncate(time.Second),
	}
}

// serveChanging answers a request for changing page i of p.
func (s *Sim) serveChanging(w http.ResponseWriter, r *http.Request, p *profile, bare string, i int) {
	c := &s.cfg.Changing
	now := c.Clock()
	iv, phase := s.changeSchedule(p.rank, i)
	v, start := versionAt(c.Epoch, iv, phase, now)
	vh := versionHash(s.pageHash(p.rank, i), v)
	var buf [64]byte
	etag := string(appendETag(buf[:0], i, v, vh))
	lm := start.UTC().Truncate(time.Second)

	h := w.Header()
	h["Date"] = []string{now.UTC().Format(http.TimeFormat)} // the Sim's clock, not the wall clock
	h["Etag"] = []string{etag}
	h["Last-Modified"] = []string{lm.Format(http.TimeFormat)}
	s.changing.responses.Add(1)
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !s.ignoresConditional(p.rank) &&
		notModified(r.Header, etag, lm) {
		s.changing.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = ctHTML
	bp := bufPool.Get().(*[]byte)
	b := appendChangingPage((*bp)[:0], bare, i, v, iv, vh)
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		n, _ := w.Write(b)
		s.changing.bodyBytes.Add(int64(n))
	}
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
}

// notModified evaluates the conditionals of a GET or HEAD as RFC 9110
// section 13.2.2 orders them: If-None-Match (weak comparison, "*" matches
// the existing page) when present, else If-Modified-Since (ignored unless
// a single valid HTTP-date): not modified when Last-Modified is not later.
func notModified(h http.Header, etag string, lm time.Time) bool {
	if inm, ok := h["If-None-Match"]; ok {
		for _, v := range inm {
			if etagListMatches(v, etag) {
				return true
			}
		}
		return false
	}
	ims := h["If-Modified-Since"]
	if len(ims) != 1 {
		return false
	}
	t, err := http.ParseTime(ims[0])
	return err == nil && !lm.After(t)
}

// etagListMatches reports whether the If-None-Match value list ("*" or
// entity tags separated by commas) matches etag by weak comparison. A
// malformed list matches only up to where it breaks.
func etagListMatches(list, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for {
		list = strings.TrimLeft(list, " \t,")
		if list == "" {
			return false
		}
		if list[0] == '*' {
			return true
		}
		list = strings.TrimPrefix(list, "W/")
		if len(list) < 2 || list[0] != '"' {
			return false
		}
		end := strings.IndexByte(list[1:], '"')
		if end < 0 {
			return false
		}
		tag, rest := list[:end+2], list[end+2:]
		if rest != "" && rest[0] != ',' && rest[0] != ' ' && rest[0] != '\t' {
			return false
		}
		if tag == want {
			return true
		}
		list = rest
	}
}

// ignoresConditional reports whether rank's changing pages ignore
// conditional requests.
func (s *Sim) ignoresConditional(rank int) bool {
	share := s.cfg.Changing.IgnoreConditionalShare
	return share > 0 && unit(s.hash(rank, saltChangeIgnore)) < share
}

// ChangingURLs returns the absolute URLs of rank's changing pages,
// http://<domain>/changing/0 .. /changing/<PagesPerHost-1>, or nil when
// changing pages are off or the domain serves none (it serves them when
// its home kind is ok and its robots.txt allows /changing/: not
// disallow_all, server_error or hang). Nothing links them: they are seeds.
func (s *Sim) ChangingURLs(rank int) []string {
	if !s.cfg.Changing.Enabled || rank < 1 || rank > s.cfg.Domains {
		return nil
	}
	p := s.profile(rank)
	if !servesChanging(&p) {
		return nil
	}
	base := "http://" + p.domain() + ChangingPrefix
	out := make([]string, s.cfg.Changing.PagesPerHost)
	for i := range out {
		out[i] = base + strconv.Itoa(i)
	}
	return out
}

// ChangingPageAt describes the changing page at host and path (as for
// [Sim.Requests]: port and case of host ignored) at time t; ok is false
// when there is no such page (changing pages off, a domain that serves
// none, its www alias, another path).
func (s *Sim) ChangingPageAt(host, path string, t time.Time) (ChangingPage, bool) {
	p, ok := s.changingHost(host)
	if !ok {
		return ChangingPage{}, false
	}
	i, ok := parseChangingPath(path)
	if !ok || i >= s.cfg.Changing.PagesPerHost {
		return ChangingPage{}, false
	}
	return s.changingPage(&p, i, t), true
}

// ChangeInterval returns the change interval of the changing page at host
// and path; ok is false when there is no such page.
func (s *Sim) ChangeInterval(host, path string) (time.Duration, bool) {
	cp, ok := s.ChangingPageAt(host, path, s.cfg.Changing.Epoch)
	return cp.Interval, ok
}

// Version returns the version of the changing page at host and path at
// time t, floor((t-Epoch-phase)/interval); ok is false when there is no
// such page. The content, and so the ETag, differs for every version.
func (s *Sim) Version(host, path string, t time.Time) (int64, bool) {
	cp, ok := s.ChangingPageAt(host, path, t)
	return cp.Version, ok
}

// IgnoresConditional reports whether host serves changing pages and
// ignores If-None-Match and If-Modified-Since on them (always 200 with the
// full body, ETag and Last-Modified still sent).
func (s *Sim) IgnoresConditional(host string) bool {
	p, ok := s.changingHost(host)
	return ok && s.ignoresConditional(p.rank)
}

// ChangingResponses returns the number of responses (200 and 304) sent
// for changing pages.
func (s *Sim) ChangingResponses() int64 { return s.changing.responses.Load() }

// NotModifiedResponses returns the number of 304 Not Modified responses
// sent (only changing pages send them).
func (s *Sim) NotModifiedResponses() int64 { return s.changing.notModified.Load() }

// ChangingBodyBytes returns the number of body bytes written for changing
// pages: a 304 (and a HEAD) adds nothing, a 200 its whole body.
func (s *Sim) ChangingBodyBytes() int64 { return s.changing.bodyBytes.Load() }
