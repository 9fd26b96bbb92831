package websim

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
)

// Header values of site responses.
var (
	ctPDF = []string{"application/pdf"}
	ctXML = []string{"application/xml; charset=utf-8"}
	ctGz  = []string{"application/x-gzip"}
)

var (
	siteHead = []byte("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
	siteBody = []byte("</head>\n<body>\n<h1>")
	siteText = []byte("</h1>\n<p>A page of a synthetic site served by websim, the test web of crawlmaster.</p>\n")
	pdfBody  = []byte("%PDF-1.4\n% websim\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" +
		"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n" +
		"3 0 obj << /S /URI /URI (/pdf-only.html) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
)

// serveSite answers a site path that is not one of the plain domain paths
// (/, /about, /robots.txt, ...): path and query are canonical (session ids
// removed, parameters sorted).
func (s *Sim) serveSite(w http.ResponseWriter, p *profile, host string, www bool, path, query string) {
	bare := host
	if www {
		bare = host[len("www."):]
	}
	if www {
		// The www alias serves only the plain paths; it sends the site's
		// own paths to the bare domain.
		loc := "http://" + bare + path
		if query != "" {
			loc += "?" + query
		}
		redirect(w, http.StatusMovedPermanently, true, "", loc)
		return
	}
	g := s.siteGen(p, host)
	r, ok := g.page(path, query)
	if !ok {
		notFound(w)
		return
	}
	h := w.Header()
	switch r.kind {
	case respRedirect:
		redirect(w, r.code, true, "", r.loc)
	case respGone:
		writeText(w, http.StatusGone, "websim: gone\n")
	case respHTML:
		if r.xrobot != "" {
			h["X-Robots-Tag"] = []string{r.xrobot}
		}
		s.writePage(w, func(b []byte) []byte { return g.appendHTML(b, &r, path) })
	case respPDF:
		h["Content-Type"] = ctPDF
		s.writeBody(w, func(b []byte) []byte { return append(b, pdfBody...) })
	case respPNG:
		h["Content-Type"] = ctPNG
		s.writeBody(w, func(b []byte) []byte { return append(b, pngBody...) })
	case respJSON:
		h["Content-Type"] = ctJSON
		s.writeBody(w, func(b []byte) []byte {
			b = append(b, `{"site":"`...)
			b = append(b, bare...)
			b = append(b, `","next":"http://`...)
			b = append(b, bare...)
			return append(b, `/json-only.html"}`+"\n"...)
		})
	case respXML:
		h["Content-Type"] = ctXML
		s.writeBody(w, func(b []byte) []byte { return appendSitemap(b, &r) })
	case respXMLGz:
		h["Content-Type"] = ctGz
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = zw.Write(appendSitemap(nil, &r))
		_ = zw.Close()
		s.writeBody(w, func(b []byte) []byte { return append(b, buf.Bytes()...) })
	default:
		notFound(w)
	}
}

// serveSiteHome writes the home page of a site: the plain home page of its
// kind with the site's links (homeNav) before its end.
func (s *Sim) serveSiteHome(w http.ResponseWriter, p *profile, host, bare string) {
	g := s.siteGen(p, host)
	nav := g.homeNav()
	h := w.Header()
	switch p.home {
	case HomeBrokenHTML:
		h["Content-Type"] = ctHTML
		s.writeBody(w, func(b []byte) []byte { return g.appendLinks(appendBroken(b, bare), nav, "/") })
	case HomeLatin1:
		h["Content-Type"] = ctLatin1
		s.writeBody(w, func(b []byte) []byte {
			b = appendEncodedPageOpen(b, pageHeadNoCS, titleLatin1Bytes, bare)
			return append(g.appendLinks(b, nav, "/"), pageTail...)
		})
	case HomeEUCKR:
		h["Content-Type"] = ctHTMLPlain
		s.writeBody(w, func(b []byte) []byte {
			b = appendEncodedPageOpen(b, pageHeadEUCKR, titleEUCKRBytes, bare)
			return append(g.appendLinks(b, nav, "/"), pageTail...)
		})
	default:
		s.writePage(w, func(b []byte) []byte {
			b = appendPageOpen(b, titleOK, bare, p.robots == RobotsDisallowSome)
			return append(g.appendLinks(b, nav, "/"), pageTail...)
		})
	}
}

// appendSiteRobots appends a site's robots.txt: a group for another
// crawler that disallows everything, then the group for everyone with the
// Disallow lines, Crawl-delay and the Sitemap line.
func (s *Sim) appendSiteRobots(b []byte, p *profile) []byte {
	g := s.siteGen(p, "")
	b = append(b, "User-agent: examplebot\nDisallow: /\n\nUser-agent: *\n"...)
	rules := 0
	if g.has(FeatureMembers) {
		b = append(b, "Disallow: /members/\n"...)
		rules++
	}
	if p.robots == RobotsDisallowSome {
		b = append(b, "Disallow: /private/\n"...)
		rules++
	}
	if d := s.crawlDelayOf(p); d > 0 {
		b = append(b, "Crawl-delay: "...)
		b = strconv.AppendFloat(b, d.Seconds(), 'f', -1, 64)
		b = append(b, '\n')
	}
	if rules == 0 {
		b = append(b, "Disallow:\n"...)
	}
	if sm := g.robotsSitemap(); sm != "" {
		b = append(b, "\nSitemap: "...)
		b = append(b, sm...)
		b = append(b, '\n')
	}
	return b
}

// appendHTML renders a site HTML page served at pagePath.
func (g *siteGen) appendHTML(b []byte, r *sresp, pagePath string) []byte {
	b = append(b, siteHead...)
	b = append(b, r.title...)
	b = append(b, "</title>\n"...)
	if r.meta[0] != "" {
		b = append(b, "<meta name=\""...)
		b = append(b, r.meta[0]...)
		b = append(b, "\" content=\""...)
		b = append(b, r.meta[1]...)
		b = append(b, "\">\n"...)
	}
	ref := pagePath
	for i, bh := range r.base {
		if i == 0 {
			ref = bh
		}
		b = append(b, "<base href=\""...)
		b = append(b, bh...)
		b = append(b, "\">\n"...)
	}
	if r.frames {
		b = append(b, "</head>\n<frameset cols=\"50%,50%\">\n"...)
		b = g.appendLinks(b, r.links, ref)
		return append(b, "</frameset>\n</html>\n"...)
	}
	b = append(b, siteBody...)
	b = append(b, r.title...)
	b = append(b, siteText...)
	b = g.appendLinks(b, r.links, ref)
	return append(b, pageTail...)
}

// appendLinks renders links; relative forms are relative to ref (the page
// path or its <base>).
func (g *siteGen) appendLinks(b []byte, links []slink, ref string) []byte {
	for i := range links {
		l := &links[i]
		attr := " href="
		switch l.tag {
		case tagSnippet:
			b = append(b, l.raw...)
			continue
		case tagArea:
			b = append(b, "<map name=\"m"...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, "\"><area shape=\"rect\" coords=\"0,0,8,8\" alt=\"area\""...)
		case tagIframe:
			b = append(b, "<iframe title=\"embed\""...)
			attr = " src="
		case tagFrame:
			b = append(b, "<frame"...)
			attr = " src="
		default:
			if l.style == styleUpper {
				b = append(b, "<A"...)
				attr = " HREF="
			} else {
				b = append(b, "<a"...)
			}
		}
		b = append(b, attr...)
		switch l.style {
		case styleSingle:
			b = append(b, '\'')
			b = g.appendHref(b, l, ref)
			b = append(b, '\'')
		case styleBare:
			b = g.appendHref(b, l, ref)
		default:
			b = append(b, '"')
			b = g.appendHref(b, l, ref)
			b = append(b, '"')
		}
		if l.rel != "" {
			b = append(b, " rel=\""...)
			b = append(b, l.rel...)
			b = append(b, '"')
		}
		switch l.tag {
		case tagArea:
			b = append(b, "></map>\n"...)
		case tagIframe:
			b = append(b, "></iframe>\n"...)
		case tagFrame:
			b = append(b, ">\n"...)
		default:
			if l.style == styleUpper {
				b = append(b, ">LINK</A>\n"...)
			} else {
				b = append(b, ">link</a>\n"...)
			}
		}
	}
	return b
}

// appendHref writes the href of l, HTML-escaped ('&' as &amp; unless l.amp).
func (g *siteGen) appendHref(b []byte, l *slink, ref string) []byte {
	if l.form == formLiteral {
		return append(b, l.raw...)
	}
	host := l.host
	if host == "" {
		host = g.host
	}
	scheme, port := "http", ":80"
	if l.https {
		scheme, port = "https", ":443"
	}
	switch l.form {
	case formRel:
		b = appendRelRef(b, ref, l.path)
	case formDotRel:
		b = appendRelRef(append(b, "./"...), ref, l.path)
	case formDotRoot:
		b = append(append(b, "/z/.."...), l.path...)
	case formAbs:
		b = append(append(append(append(b, scheme...), "://"...), host...), l.path...)
	case formAbsCase:
		b = append(append(b, scheme...), "://"...)
		for i := 0; i < len(host); i++ {
			c := host[i]
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			b = append(b, c)
		}
		b = append(b, l.path...)
	case formAbsPort:
		b = append(append(append(append(append(b, scheme...), "://"...), host...), port...), l.path...)
	case formSchemeRel:
		b = append(append(append(b, "//"...), host...), l.path...)
	case formUpperScheme:
		b = append(append(append(append(b, strings.ToUpper(scheme)...), "://"...), host...), l.path...)
	case formNumEntity:
		b = append(b, '/')
		for i := 1; i < len(l.path); i++ {
			if l.path[i] == '/' {
				b = append(b, "&#47;"...)
			} else {
				b = append(b, l.path[i])
			}
		}
	default:
		b = append(b, l.path...)
	}
	val := l.sv
	if l.sess != sessNone && val == 0 {
		val = g.s.freshSession()
	}
	if l.sess == sessJSession {
		b = append(b, ";jsessionid="...)
		b = appendHex(b, val, true)
	}
	amp := "&amp;"
	if l.amp {
		amp = "&"
	}
	first := true
	sep := func() {
		if first {
			b = append(b, '?')
			first = false
		} else {
			b = append(b, amp...)
		}
	}
	if l.sess == sessSID {
		sep()
		b = append(b, "sid="...)
		b = appendHex(b, val, false)
	}
	if l.query != "" {
		params := strings.Split(l.query, "&")
		if l.rev {
			for i := len(params) - 1; i >= 0; i-- {
				sep()
				b = append(b, params[i]...)
			}
		} else {
			for _, p := range params {
				sep()
				b = append(b, p...)
			}
		}
	}
	switch l.sess {
	case sessPHPSESSID:
		sep()
		b = append(b, "PHPSESSID="...)
		b = appendHex(b, val, false)
	case sessSessionID:
		sep()
		b = append(b, "sessionid="...)
		b = appendHex(b, val, false)
	}
	if l.frag {
		b = append(b, "#section-2"...)
	}
	return b
}

// appendRelRef appends the relative reference from a page (or base) at
// path from to the absolute path to: "../" for each directory of from not
// shared with to, then the rest of to; "./" when that is empty.
func appendRelRef(b []byte, from, to string) []byte {
	dir := from[:strings.LastIndexByte(from, '/')+1]
	c := 0
	for i := 0; i < len(dir) && i < len(to) && dir[i] == to[i]; i++ {
		if dir[i] == '/' {
			c = i + 1
		}
	}
	up := strings.Count(dir[c:], "/")
	for range up {
		b = append(b, "../"...)
	}
	rest := to[c:]
	if up == 0 && rest == "" {
		return append(b, "./"...)
	}
	return append(b, rest...)
}

func appendHex(b []byte, v uint64, upper bool) []byte {
	const lower, upperDigits = "0123456789abcdef", "0123456789ABCDEF"
	digits := lower
	if upper {
		digits = upperDigits
	}
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[v>>uint(shift)&15])
	}
	return b
}

// freshSession returns a session id value never handed out before by this Sim.
func (s *Sim) freshSession() uint64 {
	return mix64(s.seedMix^saltFresh<<32^s.sessions.Add(1)) | 1
}

// appendSitemap renders a sitemap urlset or index.
func appendSitemap(b []byte, r *sresp) []byte {
	b = append(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"...)
	root, item := "urlset", "url"
	if r.index {
		root, item = "sitemapindex", "sitemap"
	}
	b = append(b, '<')
	b = append(b, root...)
	b = append(b, " xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"...)
	for _, loc := range r.locs {
		b = append(b, "  <"...)
		b = append(b, item...)
		b = append(b, "><loc>"...)
		b = append(b, strings.ReplaceAll(loc, "&", "&amp;")...)
		b = append(b, "</loc><lastmod>2026-01-01</lastmod>"...)
		if !r.index {
			b = append(b, "<changefreq>weekly</changefreq>"...)
		}
		b = append(b, "</"...)
		b = append(b, item...)
		b = append(b, ">\n"...)
	}
	b = append(b, "</"...)
	b = append(b, root...)
	return append(b, ">\n"...)
}
