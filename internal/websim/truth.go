package websim

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Scope says which links a crawl follows, relative to the seed a URL
// descends from.
type Scope string

// Scopes.
const (
	ScopeHost   Scope = "host"   // the seed's host only
	ScopeDomain Scope = "domain" // the seed's registrable domain, www. included
	ScopeAny    Scope = "any"    // everything
)

// HardURLLimit is the longest canonical URL (bytes) any crawl stores,
// whatever its guards: longer links are refused.
const HardURLLimit = 8 << 10

// maxRedirects is the redirect limit of a fetch that follows redirects.
const maxRedirects = 5

// CrawlPolicy is a crawl policy as the design of site crawls defines it,
// for [Sim.CrawlTruth]. Start from [DefaultCrawlPolicy].
type CrawlPolicy struct {
	// Seeds are the ranks whose home page http://<domain>/ (as the Tranco
	// list lists the domain) seeds the crawl; nil seeds every rank.
	Seeds []int
	// Scope is host, domain or any.
	Scope Scope
	// MaxDepth: 0 fetches the seeds only (and their redirect targets).
	MaxDepth int
	// SiteBudget is the most URLs admitted per registrable domain, seeds
	// included; 0 is no limit. The truth is exact for sites under budget;
	// see [Truth.OverBudget] for the others.
	SiteBudget int
	// MaxLinks is the number of links read per page, in document order; 0
	// reads none.
	MaxLinks int
	// MaxURLLength refuses links whose canonical URL is longer (bytes); 0
	// is no guard (HardURLLimit still holds).
	MaxURLLength int
	// MaxPathSegments refuses links with more non-empty path segments; 0
	// is no guard.
	MaxPathSegments int
	// MaxRepeatedSegments refuses links in whose path one segment occurs
	// more often; 0 is no guard.
	MaxRepeatedSegments int
	// Sitemaps reads each seed's sitemaps: sitemap URLs are depth 1.
	Sitemaps bool
	// FollowRedirects follows up to 5 redirects inside one fetch (today's
	// home-page crawl); false (site crawls) makes a 3xx the result, its
	// target a URL of its own at the same depth.
	FollowRedirects bool
}

// DefaultCrawlPolicy returns the defaults of a new crawl: domain scope,
// depth 3, budget 10,000, 1,000 links per page, guards 2,048 bytes, 20
// segments, 2 repeats, no sitemaps, redirects not followed.
func DefaultCrawlPolicy() CrawlPolicy {
	return CrawlPolicy{Scope: ScopeDomain, MaxDepth: 3, SiteBudget: 10000, MaxLinks: 1000,
		MaxURLLength: 2048, MaxPathSegments: 20, MaxRepeatedSegments: 2}
}

// String returns the policy in the form ParseCrawlPolicy reads.
func (p CrawlPolicy) String() string {
	s := fmt.Sprintf("scope=%s,depth=%d,budget=%d,max_links=%d,max_url_length=%d,max_path_segments=%d,max_repeated_segments=%d,sitemaps=%t,follow_redirects=%t",
		p.Scope, p.MaxDepth, p.SiteBudget, p.MaxLinks, p.MaxURLLength, p.MaxPathSegments, p.MaxRepeatedSegments, p.Sitemaps, p.FollowRedirects)
	if p.Seeds != nil {
		s += fmt.Sprintf(",seeds=%d", len(p.Seeds))
	}
	return s
}

// ParseCrawlPolicy reads a policy as comma-separated key=value pairs over
// [DefaultCrawlPolicy]: scope (host|domain|any), depth, budget, max_links,
// max_url_length, max_path_segments, max_repeated_segments, sitemaps and
// follow_redirects (true|false; default: depth == 0), seeds (N: ranks
// 1..N; default every rank).
func ParseCrawlPolicy(spec string) (CrawlPolicy, error) {
	p := DefaultCrawlPolicy()
	followSet := false
	for _, kv := range strings.Split(spec, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, fmt.Errorf("crawl policy %q: want key=value", kv)
		}
		num := func() (int, error) {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("crawl policy %s=%q: want an integer >= 0", k, v)
			}
			return n, nil
		}
		var err error
		switch k {
		case "scope":
			p.Scope = Scope(v)
		case "depth", "max_depth":
			p.MaxDepth, err = num()
		case "budget", "site_budget":
			p.SiteBudget, err = num()
		case "max_links":
			p.MaxLinks, err = num()
		case "max_url_length":
			p.MaxURLLength, err = num()
		case "max_path_segments":
			p.MaxPathSegments, err = num()
		case "max_repeated_segments":
			p.MaxRepeatedSegments, err = num()
		case "sitemaps", "follow_redirects":
			b, perr := strconv.ParseBool(v)
			if perr != nil {
				return p, fmt.Errorf("crawl policy %s=%q: want true or false", k, v)
			}
			if k == "sitemaps" {
				p.Sitemaps = b
			} else {
				p.FollowRedirects, followSet = b, true
			}
		case "seeds":
			var n int
			if n, err = num(); err == nil {
				p.Seeds = make([]int, n)
				for i := range p.Seeds {
					p.Seeds[i] = i + 1
				}
			}
		default:
			return p, fmt.Errorf("crawl policy: unknown key %q (scope, depth, budget, max_links, max_url_length, max_path_segments, max_repeated_segments, sitemaps, follow_redirects, seeds)", k)
		}
		if err != nil {
			return p, err
		}
	}
	if !followSet {
		p.FollowRedirects = p.MaxDepth == 0
	}
	return p, p.validate(0)
}

func (p *CrawlPolicy) validate(domains int) error {
	switch p.Scope {
	case ScopeHost, ScopeDomain, ScopeAny:
	default:
		return fmt.Errorf("crawl policy: scope %q: want host, domain or any", p.Scope)
	}
	if p.MaxDepth < 0 || p.SiteBudget < 0 || p.MaxLinks < 0 || p.MaxURLLength < 0 || p.MaxPathSegments < 0 || p.MaxRepeatedSegments < 0 {
		return errors.New("crawl policy: negative limit")
	}
	if domains > 0 {
		for _, r := range p.Seeds {
			if r < 1 || r > domains {
				return fmt.Errorf("crawl policy: seed rank %d outside 1..%d", r, domains)
			}
		}
	}
	return nil
}

// refuses reports whether a guard refuses a discovered canonical URL.
func (p *CrawlPolicy) refuses(u string) bool {
	if len(u) > HardURLLimit || p.MaxURLLength > 0 && len(u) > p.MaxURLLength {
		return true
	}
	if p.MaxPathSegments == 0 && p.MaxRepeatedSegments == 0 {
		return false
	}
	_, _, path, _, _ := splitCanonical(u)
	segs := pathSegments(path)
	if p.MaxPathSegments > 0 && len(segs) > p.MaxPathSegments {
		return true
	}
	if p.MaxRepeatedSegments > 0 {
		for i, a := range segs {
			n := 0
			for _, b := range segs[i:] {
				if a == b {
					n++
				}
			}
			if n > p.MaxRepeatedSegments {
				return true
			}
		}
	}
	return false
}

// inScope reports whether a link to to, found on from, is in scope.
func (p *CrawlPolicy) inScope(from, to string) bool {
	switch p.Scope {
	case ScopeAny:
		return true
	case ScopeHost:
		return hostOf(from) == hostOf(to)
	}
	return registrableDomain(hostOf(from)) == registrableDomain(hostOf(to))
}

func hostOf(u string) string {
	_, host, _, _, _ := splitCanonical(u)
	return host
}

// TruthURL is one URL a correct crawl admits to its frontier, with its
// depth and final outcome.
type TruthURL struct {
	URL        string // canonical ([Canonical])
	Depth      int
	State      State
	Class      Class
	HTTPStatus int  // status of the last response, 0 if none
	NoIndex    bool // fetched, but meta robots or X-Robots-Tag says noindex
}

// Requested reports whether a correct crawler sends a request for the URL:
// not for unknown hosts (dns_not_found), unavailable robots.txt, or a
// robots.txt that disallows the URL itself. Transient failures (state
// dead) are requested once per attempt, every other requested URL once.
func (u TruthURL) Requested() bool {
	switch u.Class {
	case ClassDNSNotFound, ClassRobotsUnavailable:
		return false
	case ClassRobotsDisallowed:
		return u.HTTPStatus != 0 // a followed redirect led there
	}
	return true
}

// SitemapFetch is a sitemap file a correct crawl reads.
type SitemapFetch struct {
	URL        string
	HTTPStatus int
	URLs       int // entries: page URLs of a urlset, sitemap URLs of an index
}

// SiteCount is the number of URLs of one registrable domain.
type SiteCount struct {
	Site string
	URLs int
}

// Truth is what a correct crawl of a policy does, computed by
// [Sim.CrawlTruth]. See the package documentation for the semantics.
type Truth struct {
	Policy CrawlPolicy
	// URLs are the admitted URLs, sorted: requested ones and those a
	// correct crawl stores as failed without a request (see
	// [TruthURL.Requested]).
	URLs []TruthURL
	// Sitemaps are the sitemap files read (Policy.Sitemaps), sorted.
	Sitemaps []SitemapFetch
	// OverBudget lists the sites with more URLs than Policy.SiteBudget
	// (their URLs count in URLs all the same). For each, a correct crawl
	// admits exactly SiteBudget of them with host or domain scope (the seed
	// among them), at no smaller depth than listed; other sites are
	// unaffected. With scope any, sites reached through an over-budget site
	// may lose URLs too. Empty: the truth is exact.
	OverBudget []SiteCount
}

// Exact reports whether no site exceeded the budget.
func (t *Truth) Exact() bool { return len(t.OverBudget) == 0 }

// Get returns the row of a canonical URL.
func (t *Truth) Get(u string) (TruthURL, bool) {
	i, ok := slices.BinarySearchFunc(t.URLs, u, func(a TruthURL, u string) int { return strings.Compare(a.URL, u) })
	if !ok {
		return TruthURL{}, false
	}
	return t.URLs[i], true
}

// Fetched returns the URLs a correct crawler requests.
func (t *Truth) Fetched() []TruthURL {
	var out []TruthURL
	for _, u := range t.URLs {
		if u.Requested() {
			out = append(out, u)
		}
	}
	return out
}

// NotRequested returns the admitted URLs a correct crawler stores as
// failed without requesting them.
func (t *Truth) NotRequested() []TruthURL {
	var out []TruthURL
	for _, u := range t.URLs {
		if !u.Requested() {
			out = append(out, u)
		}
	}
	return out
}

// CrawlTruth computes what a correct crawl of the policy fetches, from
// websim's own graph: every admitted URL with its depth and outcome. It
// fails on an invalid policy.
func (s *Sim) CrawlTruth(pol CrawlPolicy) (*Truth, error) {
	if err := pol.validate(s.cfg.Domains); err != nil {
		return nil, err
	}
	run := s.newTruthRun(&pol)
	run.crawl(s.seeds(&pol))
	t := &Truth{Policy: pol, URLs: run.rows, Sitemaps: run.sitemaps}
	slices.SortFunc(t.URLs, func(a, b TruthURL) int { return strings.Compare(a.URL, b.URL) })
	slices.SortFunc(t.Sitemaps, func(a, b SitemapFetch) int { return strings.Compare(a.URL, b.URL) })
	if pol.SiteBudget > 0 {
		counts := map[string]int{}
		for _, u := range t.URLs {
			counts[registrableDomain(hostOf(u.URL))]++
		}
		for site, n := range counts {
			if n > pol.SiteBudget {
				t.OverBudget = append(t.OverBudget, SiteCount{site, n})
			}
		}
		slices.SortFunc(t.OverBudget, func(a, b SiteCount) int { return strings.Compare(a.Site, b.Site) })
	}
	return t, nil
}

func (s *Sim) seeds(pol *CrawlPolicy) []int {
	if pol.Seeds != nil {
		return pol.Seeds
	}
	all := make([]int, s.cfg.Domains)
	for i := range all {
		all[i] = i + 1
	}
	return all
}

// CrawlTruthHeader is the header of [Sim.WriteCrawlTruth].
var CrawlTruthHeader = []string{"url", "depth", "state", "class", "http_status", "noindex"}

// WriteCrawlTruth writes the URLs of [Sim.CrawlTruth] as CSV with the
// header [CrawlTruthHeader]. With host or domain scope it computes one
// seed at a time (memory bounded by the largest site; rows grouped by seed
// in rank order, sorted within a group); with scope any all at once,
// sorted. The budget verdict is not written: call CrawlTruth for it.
func (s *Sim) WriteCrawlTruth(w io.Writer, pol CrawlPolicy) error {
	if err := pol.validate(s.cfg.Domains); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(CrawlTruthHeader); err != nil {
		return err
	}
	rec := make([]string, len(CrawlTruthHeader))
	write := func(rows []TruthURL) error {
		slices.SortFunc(rows, func(a, b TruthURL) int { return strings.Compare(a.URL, b.URL) })
		for _, u := range rows {
			rec[0], rec[1], rec[2], rec[3] = u.URL, strconv.Itoa(u.Depth), string(u.State), string(u.Class)
			rec[4], rec[5] = strconv.Itoa(u.HTTPStatus), strconv.FormatBool(u.NoIndex)
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		return nil
	}
	if pol.Scope == ScopeAny {
		run := s.newTruthRun(&pol)
		run.crawl(s.seeds(&pol))
		if err := write(run.rows); err != nil {
			return err
		}
	} else {
		for _, r := range s.seeds(&pol) {
			run := s.newTruthRun(&pol)
			run.crawl([]int{r})
			if err := write(run.rows); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// ReadCrawlTruth reads what [Sim.WriteCrawlTruth] wrote. Errors name the line.
func ReadCrawlTruth(r io.Reader) ([]TruthURL, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(CrawlTruthHeader)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("crawl truth: line 1: missing header")
	}
	if err != nil {
		return nil, fmt.Errorf("crawl truth: %w", err)
	}
	if !slices.Equal(head, CrawlTruthHeader) {
		return nil, fmt.Errorf("crawl truth: line 1: header is %q, want %q", strings.Join(head, ","), strings.Join(CrawlTruthHeader, ","))
	}
	var out []TruthURL
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("crawl truth: %w", err)
		}
		line, _ := cr.FieldPos(0)
		depth, err1 := strconv.Atoi(rec[1])
		status, err2 := strconv.Atoi(rec[4])
		noindex, err3 := strconv.ParseBool(rec[5])
		u := TruthURL{URL: rec[0], Depth: depth, State: State(rec[2]), Class: Class(rec[3]), HTTPStatus: status, NoIndex: noindex}
		switch {
		case err1 != nil || depth < 0:
			return nil, fmt.Errorf("crawl truth: line %d: depth %q", line, rec[1])
		case err2 != nil || status < 0 || status > 999:
			return nil, fmt.Errorf("crawl truth: line %d: http_status %q", line, rec[4])
		case err3 != nil:
			return nil, fmt.Errorf("crawl truth: line %d: noindex %q", line, rec[5])
		case !strings.HasPrefix(u.URL, "http://") && !strings.HasPrefix(u.URL, "https://"):
			return nil, fmt.Errorf("crawl truth: line %d: url %q", line, rec[0])
		case !slices.Contains(validStates, u.State):
			return nil, fmt.Errorf("crawl truth: line %d: state %q", line, rec[2])
		case !slices.Contains(validClasses, u.Class):
			return nil, fmt.Errorf("crawl truth: line %d: class %q", line, rec[3])
		}
		u.URL = strings.Clone(u.URL)
		out = append(out, u)
	}
}

// truthRun is one breadth-first crawl of websim's graph, level by level:
// links cost one level, unfollowed redirects none (a 0-1 BFS), so every
// URL is processed once, at its smallest depth.
type truthRun struct {
	s        *Sim
	pol      *CrawlPolicy
	depth    map[string]int // admitted URLs; -1 once processed
	level    int
	cur      []string
	next     []string
	rows     []TruthURL
	sitemaps []SitemapFetch
}

func (s *Sim) newTruthRun(pol *CrawlPolicy) *truthRun {
	return &truthRun{s: s, pol: pol, depth: map[string]int{}}
}

// offer admits u at depth d unless it is known at a depth <= d.
func (t *truthRun) offer(u string, d int) {
	if old, ok := t.depth[u]; ok && (old < 0 || old <= d) {
		return
	}
	t.depth[u] = d
	if d == t.level {
		t.cur = append(t.cur, u)
	} else {
		t.next = append(t.next, u)
	}
}

// admit offers a link (or redirect target, or sitemap URL) to found on
// from at depth d, through depth, scope and guards.
func (t *truthRun) admit(from, to string, d int) {
	if d > t.pol.MaxDepth || !t.pol.inScope(from, to) || t.pol.refuses(to) {
		return
	}
	t.offer(to, d)
}

func (t *truthRun) crawl(seeds []int) {
	isSeed := map[string]bool{}
	for _, r := range seeds {
		u := "http://" + t.s.Domain(r) + "/"
		isSeed[u] = true
		t.offer(u, 0)
	}
	for ; len(t.cur) > 0; t.level++ {
		for i := 0; i < len(t.cur); i++ {
			u := t.cur[i]
			if t.depth[u] != t.level {
				continue // processed, or found shallower
			}
			t.depth[u] = -1
			d := t.level
			res := t.s.fetchModel(u, t.pol.FollowRedirects)
			t.rows = append(t.rows, TruthURL{URL: u, Depth: d, State: res.state, Class: res.class,
				HTTPStatus: res.status, NoIndex: res.noindex})
			if res.redirect != "" {
				if d == 0 {
					// A redirect target at depth 0 is a seed of its own
					// (scope is relative to it): admitted whatever the scope.
					if !t.pol.refuses(res.redirect) {
						t.offer(res.redirect, 0)
					}
				} else {
					t.admit(u, res.redirect, d)
				}
			}
			for k, l := range res.links {
				if k >= t.pol.MaxLinks {
					break
				}
				t.admit(u, l, d+1)
			}
			if t.pol.Sitemaps && d == 0 && isSeed[u] && sitemapsAfter(res.class) {
				for _, e := range t.sitemapURLs(u) {
					t.admit(u, e, 1)
				}
			}
		}
		t.cur, t.next = t.next, t.cur[:0]
	}
}

// sitemapsAfter reports whether a seed's outcome leaves its host worth
// reading sitemaps from: it answered, or robots.txt kept the crawler from
// asking. After a transient failure a crawler retries the seed and reads
// them then; a seed that stays dead (or an unknown host, or an unavailable
// robots.txt) has none read.
func sitemapsAfter(c Class) bool {
	return c == ClassOK || c == ClassHTTP4xx || c == ClassRobotsDisallowed
}

// sitemapURLs reads the sitemaps of a seed's host as a correct crawler
// does: the Sitemap: lines of its robots.txt on the same host, or
// /sitemap.xml when there are none; indexes followed to depth 2; files
// robots.txt disallows (or an unavailable robots.txt) not read.
func (t *truthRun) sitemapURLs(seed string) []string {
	_, host, _, _, _ := splitCanonical(seed)
	hi := t.s.hostInfo(host)
	if !hi.served || hi.p.robots == RobotsServerError || hi.p.robots == RobotsHang {
		return nil
	}
	p := &hi.p
	g := t.s.siteGen(p, host)
	var files []string
	if p.site && siteRobots(p.robots) {
		if sm := g.robotsSitemap(); sm != "" && hostOf(sm) == host {
			files = append(files, sm)
		}
	}
	if files == nil {
		files = []string{"http://" + host + sitemapXML}
	}
	var out []string
	for level := 0; level < 2 && len(files) > 0; level++ {
		var children []string
		for _, f := range files {
			_, fh, fpath, fq, err := splitCanonical(f)
			if err != nil || fh != host || t.s.robotsForbids(p, fpath) {
				continue
			}
			fetch := SitemapFetch{URL: f, HTTPStatus: 404}
			if p.site && !hi.www {
				if r, ok := g.page(fpath, fq); ok && (r.kind == respXML || r.kind == respXMLGz) {
					fetch.HTTPStatus, fetch.URLs = 200, len(r.locs)
					for _, loc := range r.locs {
						c, err := Canonical(loc)
						if err != nil {
							continue
						}
						if r.index {
							children = append(children, c)
						} else {
							out = append(out, c)
						}
					}
				}
			}
			t.sitemaps = append(t.sitemaps, fetch)
		}
		files = children
	}
	return out
}

// hostInfo is what websim knows of a host name (canonical, no port).
type hostInfo struct {
	test   bool // under .test: routed to websim (else unknown to DNS)
	served bool // a listed, served domain or its www. alias
	www    bool
	p      profile
}

func (s *Sim) hostInfo(host string) hostInfo {
	var hi hostInfo
	if !strings.HasSuffix(host, ".test") {
		return hi
	}
	hi.test = true
	rank, www, tld, ok := s.parseHost(host)
	if !ok || tld != ".test" {
		return hi
	}
	p := s.profile(rank)
	if p.home == HomeUnknownHost {
		return hi
	}
	hi.served, hi.www, hi.p = true, www, p
	return hi
}

// fetchResult is the outcome of fetching one URL.
type fetchResult struct {
	state    State
	class    Class
	status   int
	redirect string   // an unfollowed redirect's canonical target
	links    []string // canonical link targets in document order (nofollow pages: none)
	noindex  bool
}

// fetchModel is what a correct polite crawler gets for u: robots.txt
// first (an unknown host fails before, an unavailable robots.txt is
// transient, a disallowed URL is not requested), transient failures
// retried to no avail (except the flaky home page), and with follow up to
// 5 redirects followed, each target checked against robots.txt.
func (s *Sim) fetchModel(u string, follow bool) fetchResult {
	var res fetchResult
	cur := u
	for redirects := 0; ; {
		_, host, path, query, err := splitCanonical(cur)
		if err != nil {
			res.state, res.class = StateFailed, ClassDNSNotFound
			return res
		}
		hi := s.hostInfo(host)
		switch {
		case !hi.test:
			res.state, res.class = StateFailed, ClassDNSNotFound
			return res
		case hi.served && (hi.p.robots == RobotsServerError || hi.p.robots == RobotsHang):
			res.state, res.class = StateDead, ClassRobotsUnavailable
			return res
		case hi.served && s.robotsForbids(&hi.p, path):
			res.state, res.class = StateFailed, ClassRobotsDisallowed
			return res
		}
		m := s.respModel(&hi, host, path, query)
		res.status = m.status
		switch {
		case m.status == 0:
			res.state, res.class = StateDead, ClassTimeout
		case m.status == 429:
			res.state, res.class = StateDead, ClassHTTP429
		case m.status >= 500:
			res.state, res.class = StateDead, ClassHTTP5xx
		case m.status >= 400:
			res.state, res.class = StateFailed, ClassHTTP4xx
		case m.status >= 300:
			if !follow {
				res.state, res.class, res.redirect = StateDone, ClassOK, m.loc
				return res
			}
			if redirects == maxRedirects {
				res.state, res.class = StateFailed, ClassTooManyRedirects
				return res
			}
			redirects++
			cur = m.loc
			continue
		default:
			res.state, res.class, res.noindex = StateDone, ClassOK, m.noindex
			if !m.nofollow {
				res.links = m.links
			}
		}
		return res
	}
}

// mresp is the model of one response, robots.txt aside.
type mresp struct {
	status   int    // 0: no answer within any timeout
	loc      string // 3xx: canonical absolute target
	links    []string
	noindex  bool
	nofollow bool
}

// respModel describes what websim answers for a canonical URL of host.
func (s *Sim) respModel(hi *hostInfo, host, path, query string) mresp {
	if !hi.served {
		return mresp{status: http421}
	}
	p := &hi.p
	pid := pathID(path)
	if p.site {
		if query != "" {
			pid = -1
		}
		if pid < 0 {
			return s.siteModel(p, host, hi.www, path, query)
		}
	}
	if pid < 0 {
		return mresp{status: 404}
	}
	return s.plainModel(p, host, pid)
}

const http421 = 421

// siteModel is respModel for a site's own paths.
func (s *Sim) siteModel(p *profile, host string, www bool, path, query string) mresp {
	self := "http://" + host + path
	if query != "" {
		self += "?" + query
	}
	if www {
		return mresp{status: 301, loc: "http://" + strings.TrimPrefix(self, "http://www.")}
	}
	g := s.siteGen(p, host)
	r, ok := g.page(path, query)
	if !ok {
		return mresp{status: 404}
	}
	switch r.kind {
	case respRedirect:
		loc, err := ResolveCanonical(self, r.loc)
		if err != nil {
			return mresp{status: 404}
		}
		return mresp{status: r.code, loc: loc}
	case respGone:
		return mresp{status: 410}
	case respHTML:
		m := mresp{status: 200}
		m.noindex, m.nofollow = r.robotsDirectives()
		m.links = targets(r.links, host)
		return m
	}
	return mresp{status: 200} // a resource or a sitemap: no links
}

// targets returns the canonical targets of the followable links.
func targets(links []slink, host string) []string {
	out := make([]string, 0, len(links))
	for i := range links {
		if links[i].followable() {
			out = append(out, links[i].target(host))
		}
	}
	return out
}

// plainModel describes the paths every served domain has (server.go).
func (s *Sim) plainModel(p *profile, host string, pid int) mresp {
	bare := strings.TrimPrefix(host, "www.")
	page := func(private bool) mresp {
		m := mresp{status: 200, links: []string{"http://" + host + aboutPath}}
		if private {
			m.links = append(m.links, "http://"+host+privateHome)
		}
		return m
	}
	redirect := func(code int, relative bool, targetHost, path string) mresp {
		if relative {
			targetHost = host
		}
		return mresp{status: code, loc: "http://" + targetHost + path}
	}
	hop := func(i int) mresp {
		hp := p.hops[i]
		th := bare
		if hp.www {
			th = "www." + bare
		}
		return redirect(hp.code, hp.relative, th, hopTarget(i, p.nHops))
	}
	private := p.robots == RobotsDisallowSome
	switch pid {
	case pidRobots:
		return mresp{status: 200}
	case pidLanding:
		if p.home != HomeRedirect {
			return mresp{status: 404}
		}
		return page(private)
	case pidHop1, pidHop2, pidHop3:
		if k := pid - pidHop1 + 1; p.home == HomeRedirect && k < p.nHops {
			return hop(k)
		}
		return mresp{status: 404}
	case pidAbout:
		return page(false)
	case pidPrivate:
		if !private {
			return mresp{status: 404}
		}
		return page(false)
	}
	// pidRoot
	var m mresp
	switch p.home {
	case HomeRedirect:
		return hop(0)
	case HomeRedirectLoop:
		return redirect(p.code, p.rel, bare, "/")
	case HomeRedirectDisallowed:
		return redirect(p.code, p.rel, bare, privateHome)
	case HomeNotFound:
		return mresp{status: 404}
	case HomeGone:
		return mresp{status: 410}
	case HomeServerError:
		return mresp{status: 500}
	case HomeUnavailable:
		return mresp{status: 503}
	case HomeTooManyRequests:
		return mresp{status: 429}
	case HomeHang:
		return mresp{status: 0}
	case HomeHuge, HomeJSON, HomePNG:
		return mresp{status: 200}
	case HomeBrokenHTML, HomeLatin1, HomeEUCKR:
		m = page(false)
	default: // HomeOK, HomeFlaky (200 once retried)
		m = page(private)
	}
	if p.site {
		g := s.siteGen(p, host)
		m.links = append(m.links, targets(g.homeNav(), host)...)
	}
	return m
}
