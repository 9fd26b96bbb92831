package websim

import (
	"strconv"
	"strings"
)

// This file is the site graph: for a canonical (host, path, query) of a
// site it describes the response (sresp) and, for HTML, its links in
// document order (slink), each with the canonical URL it points to and the
// form it is written in. The server renders the same description
// (siterender.go) and the crawl truth reads it (truth.go), so what is
// served and what is expected cannot drift apart; the tests resolve the
// served HTML with an independent tokenizer to check the forms.

// Link tags.
const (
	tagA       uint8 = iota // <a href>
	tagArea                 // <area href> inside a <map>
	tagIframe               // <iframe src>
	tagFrame                // <frame src> (frameset pages)
	tagSnippet              // raw HTML that holds no link (comment, script, <img>, <link>)
)

// Link forms: how the href of a link to a target is written.
const (
	formRoot        uint8 = iota // /path
	formRel                      // relative to the page (or <base>) directory: p3.html, ../s1/p12.html, ./
	formDotRel                   // ./ + relative
	formDotRoot                  // /z/../path
	formAbs                      // http://host/path
	formAbsCase                  // http://HOST/path
	formAbsPort                  // http://host:80/path
	formSchemeRel                // //host/path
	formUpperScheme              // HTTP://host/path
	formNumEntity                // /s0&#47;p1.html (a numeric character reference)
	formLiteral                  // slink.raw as written (non-http links, hrefs of special pages)
)

// Session decorations of a link (removed by canonicalisation).
const (
	sessNone      uint8 = iota
	sessSID             // ?sid=<hex> first
	sessPHPSESSID       // &PHPSESSID=<hex> last
	sessSessionID       // &sessionid=<hex> last
	sessJSession        // ;jsessionid=<HEX> path parameter
)

// Attribute styles.
const (
	styleDouble uint8 = iota // href="..."
	styleSingle              // href='...'
	styleBare                // href=... (values without '=', quotes or spaces)
	styleUpper               // <A HREF="...">
)

// slink is one link of a page, in document order.
type slink struct {
	host  string // target host; "" is the page's own host
	path  string // canonical path of the target; "" for no target (tagSnippet, non-http literals)
	query string // canonical query of the target, "" for none
	raw   string // formLiteral: the href as written (HTML-escaped); tagSnippet: the HTML
	rel   string // rel attribute, "" for none
	sv    uint64 // session id value; 0 draws a fresh one at every request
	https bool
	form  uint8
	sess  uint8
	tag   uint8
	style uint8
	frag  bool // a #fragment is appended
	rev   bool // query parameters written in reverse (unsorted) order
	amp   bool // '&' written raw instead of &amp;
}

// respKind is what a site URL answers.
type respKind uint8

const (
	respNotFound respKind = iota
	respHTML
	respRedirect
	respGone
	respPDF
	respPNG
	respJSON
	respXML   // sitemap
	respXMLGz // gzip-compressed sitemap
)

// sresp describes the response of one site URL.
type sresp struct {
	kind   respKind
	code   int    // redirect status
	loc    string // redirect Location as sent
	title  string
	meta   [2]string // <meta name=meta[0] content=meta[1]>, "" for none
	xrobot string    // X-Robots-Tag header value
	base   []string  // <base href> values in document order (the first counts)
	links  []slink
	frames bool     // a frameset page
	index  bool     // sitemap index (else urlset)
	locs   []string // sitemap entries, absolute URLs as written
}

// siteGen generates the pages of one site as served on one host.
type siteGen struct {
	s    *Sim
	p    *profile
	bare string // the site's domain
	host string // the host serving the page: bare or www.bare
	feat SiteFeatures
}

func (s *Sim) siteGen(p *profile, host string) siteGen {
	bare := p.domain()
	return siteGen{s: s, p: p, bare: bare, host: host, feat: allFeatures &^ s.cfg.Sites.Without}
}

func (g *siteGen) has(f SiteFeatures) bool { return g.feat&f != 0 }

func (g *siteGen) word() string { return words[g.p.word] }

// h draws a deterministic value for (site, a, b).
func (g *siteGen) h(a, b uint64) uint64 {
	return mix64(g.s.hash(g.p.rank, saltSiteLink) ^ mix64(a*0x9e3779b97f4a7c15+b*0xd1b54a32d192ed03+1))
}

// The paths of a site.
const (
	linksPage  = "/links.html"
	searchPath = "/search"
	membersDir = "/members/"
	shopDir    = "/shop/"
	bigPage    = "/big/links.html"
	edgeIn     = "/big/edge-in.html"
	edgeOut    = "/big/edge-out.html"
	basePage   = "/base/index.html"
	mediaPage  = "/media.html"
	framesPage = "/frames.html"
	removed    = "/removed.html"
	missing    = "/s0/missing.html"
	loopPrefix = "/loop/"
	loopSeg    = "en/"
	deepPrefix = "/deep/"
	growPrefix = "/grow/"
	calPrefix  = "/cal/"

	sitemapXML   = "/sitemap.xml"
	sitemapGz    = "/sitemap.xml.gz"
	sitemapIdx   = "/sitemap_index.xml"
	sitemapPages = "/sitemaps/pages.xml"
	sitemapExtra = "/sitemaps/extra.xml.gz"
	decoyPage    = "/orphan/decoy.html"

	// Trap bounds: where the server stops linking further (the guards
	// stop a crawler much earlier; these bound a crawl without guards).
	loopMax     = 64   // /loop/ + 64 x en/
	deepMax     = 10   // /deep/ + 10 levels of 7 segments
	deepPerHop  = 7    // segments added per link
	growBase    = 640  // first /grow/ token length
	growSteps   = 4    // tokens of 640, 1280, 2560, 5120, 10240 bytes
	calMinYear  = 1900 // calendar months served: 1900-01 .. 2100-12
	calMaxYear  = 2100
	bigLinks    = 1500 // links of /big/links.html
	bigEdge     = 1000 // /big/edge-in.html is link number bigEdge, edge-out bigEdge+1
	orphans     = 3
	shopItems   = 4
	crossRanks  = 2
	unknownScan = 64
)

// metaPages are the robots-meta pages: path, meta name and content, or
// X-Robots-Tag value. Each links a child page "<path without .html>-child.html"
// reachable no other way.
var metaPages = []struct{ path, name, content, header string }{
	{"/meta/noindex.html", "robots", "noindex", ""},
	{"/meta/nofollow.html", "robots", "nofollow", ""},
	{"/meta/none.html", "robots", "none", ""},
	{"/meta/upper.html", "ROBOTS", "NOINDEX, NOFOLLOW", ""},
	{"/meta/otherbot.html", "otherbot", "noindex, nofollow", ""},
	{"/meta/xrt-noindex.html", "", "", "noindex"},
	{"/meta/xrt-nofollow.html", "", "", "nofollow"},
}

func metaChild(path string) string { return strings.TrimSuffix(path, ".html") + "-child.html" }

// leafPaths are plain HTML pages that link only the home page, with the
// feature that serves them.
var leafPaths = map[string]SiteFeatures{
	"/members/login.html": FeatureMembers, "/members/p1.html": FeatureMembers,
	"/members/profile.html": FeatureMembers, "/members/archive.html": FeatureMembers,
	"/members/secret.html": FeatureMembers,
	edgeIn:                 FeatureBigPage, edgeOut: FeatureBigPage,
	"/based/t1.html": FeatureBase, "/based/sub/t2.html": FeatureBase,
	"/embed/video.html": FeatureFrames, "/embed/area.html": FeatureFrames,
	"/frames/left.html": FeatureFrames, "/frames/right.html": FeatureFrames,
	"/hidden/h0.html": FeatureNofollow, "/hidden/h1.html": FeatureNofollow,
	decoyPage: FeatureSitemaps,
}

func init() {
	for _, m := range metaPages {
		leafPaths[metaChild(m.path)] = FeatureRobotsMeta
	}
	for k := range orphans {
		leafPaths[orphanPath(k)+"-child.html"] = FeatureSitemaps
	}
}

func orphanPath(k int) string { return "/orphan/o" + strconv.Itoa(k) }

// pagePath returns the path of regular page i: /s<i/10>/p<i>.html.
func pagePath(i int) string {
	var buf [40]byte
	return string(appendPagePath(buf[:0], i))
}

func appendPagePath(b []byte, i int) []byte {
	b = append(b, "/s"...)
	b = strconv.AppendInt(b, int64(i/10), 10)
	b = append(b, "/p"...)
	b = strconv.AppendInt(b, int64(i), 10)
	return append(b, ".html"...)
}

// parsePagePath parses /s<i/10>/p<i>.html.
func parsePagePath(path string) (int, bool) {
	rest, ok := strings.CutPrefix(path, "/s")
	if !ok {
		return 0, false
	}
	sec, rest, ok := strings.Cut(rest, "/p")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, ".html")
	if !ok {
		return 0, false
	}
	i, ok1 := atoiStrict(num)
	s, ok2 := atoiStrict(sec)
	if !ok1 || !ok2 || s != i/10 {
		return 0, false
	}
	return i, true
}

// atoiStrict parses a decimal without sign or leading zeros, below 2^31.
func atoiStrict(s string) (int, bool) {
	if s == "" || len(s) > 9 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func calPath(y, m int) string {
	var b []byte
	b = append(b, calPrefix...)
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, '/')
	if m < 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, int64(m), 10)
	return string(append(b, '/'))
}

func parseCalPath(path string) (y, m int, ok bool) {
	rest, ok := strings.CutPrefix(path, calPrefix)
	if !ok || len(rest) != 8 || rest[4] != '/' || rest[7] != '/' {
		return 0, 0, false
	}
	y, ok1 := atoiStrict(rest[:4])
	m1, ok2 := atoiStrict(strings.TrimPrefix(rest[5:7], "0"))
	if !ok1 || !ok2 || y < calMinYear || y > calMaxYear || m1 < 1 || m1 > 12 {
		return 0, 0, false
	}
	return y, m1, true
}

// calendarStart is the month the home page of rank links.
func (s *Sim) calendarStart(rank int) (y, m int) {
	h := s.hash(rank, saltCalendar)
	return 2020 + int(h%10), 1 + int((h>>8)%12)
}

func loopPath(k int) string { return loopPrefix + strings.Repeat(loopSeg, k) }

func parseLoopPath(path string) (int, bool) {
	rest, ok := strings.CutPrefix(path, loopPrefix)
	if !ok || rest == "" || len(rest)%len(loopSeg) != 0 || rest != strings.Repeat(loopSeg, len(rest)/len(loopSeg)) {
		return 0, false
	}
	k := len(rest) / len(loopSeg)
	return k, k <= loopMax
}

// deepPath returns /deep/ followed by levels 1..l of 7 segments each:
// /deep/d1a/d1b/.../d1g/d2a/.../.
func deepPath(l int) string {
	var b strings.Builder
	b.WriteString(deepPrefix)
	for lv := 1; lv <= l; lv++ {
		for j := range deepPerHop {
			b.WriteByte('d')
			b.WriteString(strconv.Itoa(lv))
			b.WriteByte(byte('a' + j))
			b.WriteByte('/')
		}
	}
	return b.String()
}

func parseDeepPath(path string) (int, bool) {
	if !strings.HasPrefix(path, deepPrefix) || !strings.HasSuffix(path, "/") {
		return 0, false
	}
	n := len(pathSegments(path)) - 1
	if n < deepPerHop || n%deepPerHop != 0 || n/deepPerHop > deepMax {
		return 0, false
	}
	l := n / deepPerHop
	return l, path == deepPath(l)
}

// growToken is the path segment of /grow/ step k: the site's word and '-'
// repeated to growBase<<k bytes.
func (g *siteGen) growToken(k int) string {
	n := growBase << k
	unit := g.word() + "-"
	return strings.Repeat(unit, n/len(unit)+1)[:n]
}

func (g *siteGen) parseGrow(path string) (int, bool) {
	tok, ok := strings.CutPrefix(path, growPrefix)
	if !ok {
		return 0, false
	}
	for k := 0; k <= growSteps; k++ {
		if len(tok) == growBase<<k {
			return k, tok == g.growToken(k)
		}
	}
	return 0, false
}

// otherRank returns the k-th other domain a site links (never itself).
func (g *siteGen) otherRank(k int) int {
	n := g.s.cfg.Domains
	if n < 2 {
		return 0
	}
	r := 1 + int(g.s.hash(g.p.rank, saltCross+uint64(k)<<8)%uint64(n))
	if r == g.p.rank {
		r = r%n + 1
	}
	return r
}

// unknownRank returns an unknown-host (.invalid) domain near a drawn rank,
// 0 if none is found in a few ranks.
func (g *siteGen) unknownRank() int {
	n := g.s.cfg.Domains
	start := int(g.s.hash(g.p.rank, saltCross+99<<8) % uint64(n))
	for i := range min(unknownScan, n) {
		r := (start+i)%n + 1
		if h, _ := g.s.kinds(r); h == HomeUnknownHost {
			return r
		}
	}
	return 0
}

func (g *siteGen) domainOf(rank int) string {
	p := g.s.profile(rank)
	return p.domain()
}

// selfForms are the forms of links to pages of the site's own host.
var selfForms = [...]uint8{formRoot, formRoot, formRoot, formRoot, formRel, formRel, formRel, formDotRel,
	formDotRoot, formAbs, formAbs, formAbsCase, formAbsPort, formSchemeRel}

// pick returns a link to path on the page's host in a form drawn from
// (page key, link number).
func (g *siteGen) pick(key uint64, j int, path, query string) slink {
	l := slink{path: path, query: query}
	if !g.has(FeatureForms) {
		return l
	}
	h := g.h(key, uint64(j))
	l.form = selfForms[h%uint64(len(selfForms))]
	switch d := (h >> 16) % 16; {
	case d == 0:
		l.sess, l.sv = sessSID, h|1
	case d == 1:
		l.sess, l.sv = sessJSession, h|1
	case d == 2:
		l.sess, l.sv = sessPHPSESSID, h|1
	case d == 3:
		l.frag = true
	}
	if query != "" {
		l.rev = (h>>24)&1 == 0
	}
	return l
}

func root(path string) slink { return slink{path: path} }

func leaf(title string) sresp {
	return sresp{kind: respHTML, title: title, links: []slink{root("/")}}
}

// homeNav returns the links a site's home page adds after the links of a
// plain home page (/about, /private/home), in document order.
func (g *siteGen) homeNav() []slink {
	n := int(g.p.pages)
	links := make([]slink, 0, 64)
	j := 0
	add := func(path string) {
		links = append(links, g.pick(0, j, path, ""))
		j++
	}
	for c := range min(n, siteFanout) {
		add(pagePath(c))
	}
	if g.has(FeatureForms) {
		links = append(links, root(linksPage), slink{host: "www." + g.bare, path: pagePath(0), form: formAbs})
	}
	if g.has(FeatureQuery) {
		links = append(links, slink{path: searchPath, query: "page=1&q=" + g.word(), rev: true})
	}
	if g.has(FeatureMembers) {
		add(membersDir)
	}
	if g.has(FeatureSessions) {
		add(shopDir)
	}
	if g.has(FeatureCalendar) {
		add(calPath(g.s.calendarStart(g.p.rank)))
	}
	if g.has(FeatureRepeat) {
		add(loopPath(1))
	}
	if g.has(FeatureDeep) {
		add(deepPath(1))
	}
	if g.has(FeatureLongURL) {
		links = append(links, root(growPrefix+g.growToken(0)))
	}
	if g.has(FeatureBigPage) {
		add(bigPage)
	}
	if g.has(FeatureBase) {
		add(basePage)
	}
	if g.has(FeatureRobotsMeta) {
		for _, m := range metaPages {
			add(m.path)
		}
	}
	if g.has(FeatureFrames) {
		add(mediaPage)
		add(framesPage)
	}
	if g.has(FeatureResources) {
		add("/files/report.pdf")
		add("/img/photo.png")
		add("/data/feed.json")
	}
	if g.has(FeatureRedirects) {
		add("/old" + pagePath(g.redirectPage(0)))
		for _, r := range goRedirects {
			if r.name != "members" || g.has(FeatureMembers) {
				add("/go/" + r.name)
			}
		}
	}
	if g.has(FeatureDeadLinks) {
		add(removed)
	}
	if g.has(FeatureNofollow) {
		links = append(links, slink{path: "/hidden/h0.html", rel: "nofollow"},
			slink{path: "/hidden/h1.html", rel: "noopener nofollow", form: formAbs})
	}
	if g.has(FeatureCrossSite) {
		if o := g.otherRank(0); o > 0 {
			links = append(links, slink{host: g.domainOf(o), path: "/", form: formAbs})
		}
		if o := g.otherRank(1); o > 0 {
			links = append(links, slink{host: g.domainOf(o), path: aboutPath, form: formAbs})
		}
		if u := g.unknownRank(); u > 0 {
			links = append(links, slink{host: g.domainOf(u), path: "/", form: formAbs})
		}
		links = append(links,
			slink{host: "nowhere-" + strconv.Itoa(g.p.rank) + ".invalid", path: "/x.html", form: formAbs},
			slink{host: "secure-" + strconv.Itoa(g.p.rank) + ".invalid", path: "/login", form: formAbs, https: true})
	}
	if g.has(FeatureJunk) {
		links = append(links, junkLinks(g.bare)...)
	}
	return links
}

// junkLinks are things that look like links and are none for a crawler
// that follows <a>/<area>/<frame>/<iframe> http(s) links only.
func junkLinks(bare string) []slink {
	return []slink{
		{form: formLiteral, raw: "mailto:info@" + bare},
		{form: formLiteral, raw: "javascript:void(0)"},
		{form: formLiteral, raw: "tel:+15550100"},
		{form: formLiteral, raw: "ftp://files." + bare + "/pub/"},
		{tag: tagSnippet, raw: "<a name=\"no-href\">an anchor without href</a>\n"},
		{tag: tagSnippet, raw: "<!-- <a href=\"/commented.html\">commented out</a> -->\n"},
		{tag: tagSnippet, raw: "<script>document.write('<a href=\"/scripted.html\">x</a>');</script>\n"},
		{tag: tagSnippet, raw: "<img src=\"/img/logo.png\" alt=\"logo\">\n"},
		{tag: tagSnippet, raw: "<link rel=\"stylesheet\" href=\"/static/site.css\">\n"},
		{tag: tagSnippet, raw: "<script src=\"/static/app.js\"></script>\n"},
	}
}

// goRedirects are the /go/ redirects of a site.
var goRedirects = []struct {
	name string
	code int
}{
	{"page", 302}, {"members", 302}, {"away", 302}, {"www", 301}, {"temp", 307},
	{"moved", 308}, {"loop", 302}, {"session", 302},
}

// redirectPage draws the regular page the k-th redirect of a site points to.
func (g *siteGen) redirectPage(k int) int {
	return int(g.h(1<<40, uint64(k)) % uint64(g.p.pages))
}

// page returns the response of a canonical site path and query on g.host;
// ok is false for a 404. g.host must be the bare domain: site paths on the
// www alias redirect to it (see Sim.siteModel).
func (g *siteGen) page(path, query string) (r sresp, ok bool) {
	n := int(g.p.pages)
	if query != "" {
		if path == searchPath && g.has(FeatureQuery) {
			return g.search(query)
		}
		return r, false
	}
	if i, ok := parsePagePath(path); ok && i < n {
		return g.regular(i), true
	}
	if f, ok := leafPaths[path]; ok && g.has(f) {
		return leaf("Page " + path + " of " + g.bare), true
	}
	switch {
	case strings.HasPrefix(path, calPrefix):
		if y, m, ok := parseCalPath(path); ok && g.has(FeatureCalendar) {
			return g.calendar(y, m), true
		}
	case strings.HasPrefix(path, loopPrefix):
		if k, ok := parseLoopPath(path); ok && g.has(FeatureRepeat) {
			r = leaf("Loop " + strconv.Itoa(k) + " of " + g.bare)
			if k < loopMax {
				r.links = append(r.links, slink{path: loopPath(k + 1), form: formRel})
			}
			return r, true
		}
	case strings.HasPrefix(path, deepPrefix):
		if l, ok := parseDeepPath(path); ok && g.has(FeatureDeep) {
			r = leaf("Deep " + strconv.Itoa(l) + " of " + g.bare)
			if l < deepMax {
				r.links = append(r.links, slink{path: deepPath(l + 1), form: formRel})
			}
			return r, true
		}
	case strings.HasPrefix(path, growPrefix):
		if k, ok := g.parseGrow(path); ok && g.has(FeatureLongURL) {
			r = leaf("Grow " + strconv.Itoa(k) + " of " + g.bare)
			if k < growSteps {
				r.links = append(r.links, slink{path: growPrefix + g.growToken(k+1), form: formRel})
			}
			return r, true
		}
	case strings.HasPrefix(path, "/old/"):
		if i, ok := parsePagePath(strings.TrimPrefix(path, "/old")); ok && i < n && g.has(FeatureRedirects) {
			return sresp{kind: respRedirect, code: 301, loc: "http://" + g.host + pagePath(i)}, true
		}
	case strings.HasPrefix(path, "/go/"):
		if g.has(FeatureRedirects) {
			return g.goRedirect(strings.TrimPrefix(path, "/go/"))
		}
	case strings.HasPrefix(path, "/orphan/o"):
		for k := range orphans {
			if path == orphanPath(k)+".html" && g.has(FeatureSitemaps) {
				return sresp{kind: respHTML, title: "Orphan " + strconv.Itoa(k) + " of " + g.bare,
					links: []slink{root("/"), {path: orphanPath(k) + "-child.html", form: formRel}}}, true
			}
		}
	case strings.HasPrefix(path, "/meta/"):
		for _, m := range metaPages {
			if path == m.path && g.has(FeatureRobotsMeta) {
				r = leaf("Robots meta " + path + " of " + g.bare)
				r.meta = [2]string{m.name, m.content}
				r.xrobot = m.header
				r.links = append(r.links, slink{path: metaChild(m.path), form: formRel})
				return r, true
			}
		}
	}
	switch path {
	case linksPage:
		if g.has(FeatureForms) {
			return g.linksShowcase(), true
		}
	case membersDir:
		if g.has(FeatureMembers) {
			r = leaf("Members of " + g.bare)
			r.links = append(r.links, slink{path: "/members/login.html", form: formRel}, root("/members/p1.html"))
			return r, true
		}
	case shopDir:
		if g.has(FeatureSessions) {
			return g.shop(-1), true
		}
	case bigPage:
		if g.has(FeatureBigPage) {
			return g.big(), true
		}
	case basePage:
		if g.has(FeatureBase) {
			return sresp{kind: respHTML, title: "Base of " + g.bare, base: []string{"/based/", "/wrong/"},
				links: []slink{
					{path: "/based/t1.html", form: formLiteral, raw: "t1.html"},
					{path: "/based/sub/t2.html", form: formLiteral, raw: "sub/t2.html"},
					{path: pagePath(0), form: formLiteral, raw: "../s0/p0.html"},
					root("/"),
				}}, true
		}
	case mediaPage:
		if g.has(FeatureFrames) {
			return sresp{kind: respHTML, title: "Media of " + g.bare, links: []slink{
				root("/"),
				{path: "/embed/video.html", tag: tagIframe},
				{tag: tagSnippet, raw: "<img src=\"/img/photo.png\" alt=\"photo\">\n"},
				{path: "/embed/area.html", tag: tagArea, form: formRel},
			}}, true
		}
	case framesPage:
		if g.has(FeatureFrames) {
			return sresp{kind: respHTML, title: "Frames of " + g.bare, frames: true, links: []slink{
				{path: "/frames/left.html", tag: tagFrame},
				{path: "/frames/right.html", tag: tagFrame, form: formRel},
			}}, true
		}
	case "/files/report.pdf":
		if g.has(FeatureResources) {
			return sresp{kind: respPDF}, true
		}
	case "/img/photo.png":
		if g.has(FeatureResources) {
			return sresp{kind: respPNG}, true
		}
	case "/data/feed.json":
		if g.has(FeatureResources) {
			return sresp{kind: respJSON}, true
		}
	case removed:
		if g.has(FeatureDeadLinks) {
			return sresp{kind: respGone}, true
		}
	case sitemapXML, sitemapGz, sitemapIdx, sitemapPages, sitemapExtra:
		if g.has(FeatureSitemaps) {
			return g.sitemapFile(path)
		}
	}
	if strings.HasPrefix(path, "/shop/item") && g.has(FeatureSessions) {
		for k := range shopItems {
			if path == shopItem(k) {
				return g.shop(k), true
			}
		}
	}
	return r, false
}

// regular returns regular page i: a link home, its tree children, three
// drawn pages of the site and, on the first pages, feature links.
func (g *siteGen) regular(i int) sresp {
	n := int(g.p.pages)
	r := sresp{kind: respHTML, title: "Page " + strconv.Itoa(i) + " of " + g.bare, links: make([]slink, 0, 16)}
	key := uint64(i) + 1
	j := 0
	add := func(path string) {
		r.links = append(r.links, g.pick(key, j, path, ""))
		j++
	}
	add("/")
	for c := siteFanout * (i + 1); c < siteFanout*(i+2) && c < n; c++ {
		add(pagePath(c))
	}
	if n > 1 {
		for k := range 3 {
			add(pagePath((i + 1 + int(g.h(key, 100+uint64(k))%uint64(n-1))) % n))
		}
	}
	if i == 0 {
		if g.has(FeatureNofollow) {
			r.links = append(r.links, slink{path: "/hidden/h0.html", rel: "external nofollow", form: formRel})
		}
		if g.has(FeatureDeadLinks) {
			add(missing)
		}
	}
	if i == 1%n && g.has(FeatureMembers) {
		add("/members/profile.html")
	}
	if i == 2%n && g.has(FeatureRedirects) {
		add("/old" + pagePath(g.redirectPage(1)))
	}
	return r
}

// linksShowcase is /links.html: one target written in every form.
func (g *siteGen) linksShowcase() sresp {
	t := pagePath(min(1, int(g.p.pages)-1))
	r := sresp{kind: respHTML, title: "Link forms of " + g.bare}
	for _, f := range []uint8{formRoot, formRel, formDotRel, formDotRoot, formAbs, formAbsCase, formAbsPort,
		formSchemeRel, formUpperScheme, formNumEntity} {
		r.links = append(r.links, slink{path: t, form: f})
	}
	for k, sess := range []uint8{sessSID, sessPHPSESSID, sessSessionID, sessJSession} {
		r.links = append(r.links, slink{path: t, sess: sess, sv: g.h(7, uint64(k)) | 1})
	}
	r.links = append(r.links,
		slink{path: t, frag: true, form: formRel},
		slink{path: t, style: styleSingle},
		slink{path: t, style: styleBare, form: formRel},
		slink{path: t, style: styleUpper},
		slink{path: linksPage, form: formLiteral, raw: ""},
		slink{path: linksPage, form: formLiteral, raw: "#top"},
	)
	if g.has(FeatureQuery) {
		q := "page=2&q=" + g.word()
		r.links = append(r.links,
			slink{path: searchPath, query: q},
			slink{path: searchPath, query: q, rev: true},
			slink{path: searchPath, query: q, rev: true, amp: true},
			slink{path: searchPath, query: q, sess: sessSID, sv: g.h(8, 0) | 1, form: formAbs},
		)
	}
	r.links = append(r.links, root("/"))
	if g.has(FeatureJunk) {
		r.links = append(r.links, junkLinks(g.bare)...)
	}
	return r
}

// search answers /search?page=<1..3>&q=<word>.
func (g *siteGen) search(query string) (sresp, bool) {
	w := g.word()
	page := 0
	for k := 1; k <= 3; k++ {
		if query == "page="+strconv.Itoa(k)+"&q="+w {
			page = k
		}
	}
	if page == 0 {
		return sresp{}, false
	}
	r := sresp{kind: respHTML, title: "Search " + w + " page " + strconv.Itoa(page) + " of " + g.bare}
	r.links = append(r.links, root("/"))
	if page < 3 {
		r.links = append(r.links, slink{path: searchPath, query: "page=" + strconv.Itoa(page+1) + "&q=" + w,
			form: formRel, rev: page == 1, amp: page == 2})
	}
	if page > 1 {
		r.links = append(r.links, slink{path: searchPath, query: "page=" + strconv.Itoa(page-1) + "&q=" + w,
			sess: sessSessionID, sv: g.h(9, uint64(page)) | 1})
	}
	r.links = append(r.links, root(pagePath(page%int(g.p.pages))))
	return r, true
}

func shopItem(k int) string { return shopDir + "item" + strconv.Itoa(k) + ".html" }

// shop is /shop/ (item < 0) or an item page: every link carries a session
// id drawn anew at every request (sv 0).
func (g *siteGen) shop(item int) sresp {
	if item < 0 {
		r := leaf("Shop of " + g.bare)
		for k := range shopItems {
			sess := []uint8{sessSID, sessJSession, sessPHPSESSID, sessSessionID}[k]
			r.links = append(r.links, slink{path: shopItem(k), form: formRel, sess: sess})
		}
		return r
	}
	r := leaf("Item " + strconv.Itoa(item) + " of " + g.bare)
	r.links = append(r.links,
		slink{path: shopDir, form: formRel, sess: sessSID},
		slink{path: shopItem((item + 1) % shopItems), form: formRel, sess: sessJSession},
		slink{path: shopItem((item + shopItems - 1) % shopItems), sess: sessPHPSESSID},
	)
	return r
}

// calendar is one month: it links the previous and the next month.
func (g *siteGen) calendar(y, m int) sresp {
	r := leaf("Calendar " + strconv.Itoa(y) + "-" + strconv.Itoa(m) + " of " + g.bare)
	py, pm := y, m-1
	if pm == 0 {
		py, pm = y-1, 12
	}
	ny, nm := y, m+1
	if nm == 13 {
		ny, nm = y+1, 1
	}
	if py >= calMinYear {
		r.links = append(r.links, slink{path: calPath(py, pm), form: formRel})
	}
	if ny <= calMaxYear {
		r.links = append(r.links, slink{path: calPath(ny, nm), form: formRel})
	}
	return r
}

// big is /big/links.html: bigLinks distinct hrefs (session-id variants of
// the first pages, which normalise to few URLs) with edge-in.html as link
// number bigEdge and edge-out.html as number bigEdge+1.
func (g *siteGen) big() sresp {
	r := sresp{kind: respHTML, title: "Many links of " + g.bare, links: make([]slink, 0, bigLinks)}
	m := min(int(g.p.pages), siteFanout)
	for k := range bigLinks {
		switch k + 1 {
		case bigEdge:
			r.links = append(r.links, root(edgeIn))
		case bigEdge + 1:
			r.links = append(r.links, root(edgeOut))
		default:
			r.links = append(r.links, slink{path: pagePath(k % m), sess: sessSID, sv: uint64(k) + 1})
		}
	}
	return r
}

// goRedirect answers /go/<name>.
func (g *siteGen) goRedirect(name string) (sresp, bool) {
	code := 0
	for _, r := range goRedirects {
		if r.name == name {
			code = r.code
		}
	}
	r := sresp{kind: respRedirect, code: code}
	switch name {
	case "page":
		r.loc = pagePath(g.redirectPage(2))
	case "members":
		if !g.has(FeatureMembers) {
			return r, false
		}
		r.loc = "/members/secret.html"
	case "away":
		r.loc = "/"
		if o := g.otherRank(0); o > 0 {
			r.loc = "http://" + g.domainOf(o) + "/"
		}
	case "www":
		r.loc = "http://www." + g.bare + pagePath(0)
	case "temp":
		r.loc = "http://" + strings.ToUpper(g.host) + ":80" + pagePath(g.redirectPage(3))
	case "moved":
		r.loc = ".." + pagePath(g.redirectPage(4))
	case "loop":
		r.loc = "/go/loop"
	case "session":
		r.loc = pagePath(0) + ";jsessionid=" + strings.ToUpper(strconv.FormatUint(g.h(10, 0), 16))
	default:
		return r, false
	}
	return r, true
}

// sitemapEntries are the URLs a site's sitemaps list: the home page,
// the orphans (linked from nowhere), every fourth regular page, a search
// page (written with its parameters unsorted) and a disallowed page.
func (g *siteGen) sitemapEntries(part int) []string {
	base := "http://" + g.bare
	var out []string
	if part != 2 {
		out = append(out, base+"/")
		for i := 3; i < int(g.p.pages); i += 4 {
			out = append(out, base+pagePath(i))
		}
	}
	if part != 1 {
		for k := range orphans {
			out = append(out, base+orphanPath(k)+".html")
		}
		if g.has(FeatureQuery) {
			out = append(out, base+searchPath+"?q="+g.word()+"&page=3")
		}
		if g.has(FeatureMembers) {
			out = append(out, base+"/members/archive.html")
		}
	}
	return out
}

// sitemapFile answers the sitemap paths of the site's sitemap kind.
func (g *siteGen) sitemapFile(path string) (sresp, bool) {
	all, pages, extra := 0, 1, 2
	switch g.p.sitemap {
	case SitemapRobots, SitemapFallback:
		if path == sitemapXML {
			return sresp{kind: respXML, locs: g.sitemapEntries(all)}, true
		}
	case SitemapGzip:
		if path == sitemapGz {
			return sresp{kind: respXMLGz, locs: g.sitemapEntries(all)}, true
		}
	case SitemapIndex:
		switch path {
		case sitemapIdx:
			return sresp{kind: respXML, index: true, locs: []string{"http://" + g.bare + sitemapPages, "http://" + g.bare + sitemapExtra}}, true
		case sitemapPages:
			return sresp{kind: respXML, locs: g.sitemapEntries(pages)}, true
		case sitemapExtra:
			return sresp{kind: respXMLGz, locs: g.sitemapEntries(extra)}, true
		case sitemapXML:
			return sresp{kind: respXML, locs: []string{"http://" + g.bare + decoyPage}}, true
		}
	}
	return sresp{}, false
}

// robotsSitemap returns the Sitemap: URL robots.txt names, "" for none.
func (g *siteGen) robotsSitemap() string {
	if !g.has(FeatureSitemaps) {
		return ""
	}
	switch g.p.sitemap {
	case SitemapRobots:
		return "http://" + g.bare + sitemapXML
	case SitemapIndex:
		return "http://" + g.bare + sitemapIdx
	case SitemapGzip:
		return "http://" + g.bare + sitemapGz
	}
	return ""
}

// siteRobots reports whether a site's robots kind serves the site's own
// robots.txt body (a 200 that allows the site, with its Disallow lines,
// Crawl-delay and Sitemap line).
func siteRobots(k RobotsKind) bool {
	switch k {
	case RobotsAllowAll, RobotsDisallowSome, RobotsCrawlDelay, RobotsSlow:
		return true
	}
	return false
}

// robotsForbids reports whether p's robots.txt forbids path.
func (s *Sim) robotsForbids(p *profile, path string) bool {
	if p.robots.disallows(path) {
		return true
	}
	return p.site && s.cfg.Sites.Without&FeatureMembers == 0 && siteRobots(p.robots) && strings.HasPrefix(path, membersDir)
}

// target returns the canonical URL a link points to on a page served by
// pageHost, "" for links without one.
func (l *slink) target(pageHost string) string {
	if l.path == "" {
		return ""
	}
	host := l.host
	if host == "" {
		host = pageHost
	}
	scheme := "http://"
	if l.https {
		scheme = "https://"
	}
	if l.query == "" {
		return scheme + host + l.path
	}
	return scheme + host + l.path + "?" + l.query
}

// followable reports whether a crawler returns the link: it has an http(s)
// target and its rel holds no nofollow token.
func (l *slink) followable() bool {
	if l.path == "" || l.tag == tagSnippet {
		return false
	}
	for _, tok := range strings.Fields(l.rel) {
		if strings.EqualFold(tok, "nofollow") {
			return false
		}
	}
	return true
}

// robotsDirectives reads meta robots and X-Robots-Tag values for websim's
// crawler (meta name "robots"; other names address other crawlers).
func (r *sresp) robotsDirectives() (noindex, nofollow bool) {
	var vals []string
	if strings.EqualFold(r.meta[0], "robots") {
		vals = append(vals, r.meta[1])
	}
	if r.xrobot != "" {
		vals = append(vals, r.xrobot)
	}
	for _, v := range vals {
		for _, tok := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(tok)) {
			case "noindex":
				noindex = true
			case "nofollow":
				nofollow = true
			case "none":
				noindex, nofollow = true, true
			}
		}
	}
	return noindex, nofollow
}
