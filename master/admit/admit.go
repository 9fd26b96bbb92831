package admit

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/crawlmaster/crawlmaster/crawl/netguard"
	"github.com/crawlmaster/crawlmaster/crawl/urlnorm"
	"github.com/crawlmaster/crawlmaster/master/frontier"
)

// Kind says where a link was found.
type Kind uint8

// Link kinds.
const (
	Anchor   Kind = iota + 1 // <a href>, <area href>
	Frame                    // <frame src>, <iframe src>
	Redirect                 // the target of a redirect that was not followed
	Sitemap                  // listed in one of the seed host's sitemaps
)

// Link is a raw link as the assistant reported it.
type Link struct {
	URL  string
	Kind Kind
}

// Parent is the page the links were found on.
type Parent struct {
	Depth    int16
	SeedHost string // the host of the seed the page descends from
}

// Reason is why a link was refused.
type Reason uint8

// Refusal reasons, in the order they are checked.
const (
	Invalid Reason = iota
	URLLength
	BlockedAddress
	PathSegments
	RepeatedSegments
	Depth
	Scope
	Pattern
	numReasons
)

var reasonNames = [numReasons]string{"invalid", "url_length", "blocked_address", "path_segments", "repeated_segments", "depth", "scope", "pattern"}

// String is the reason's metric label.
func (r Reason) String() string { return reasonNames[r] }

// Reasons lists every reason, in check order.
func Reasons() []Reason {
	out := make([]Reason, numReasons)
	for i := range out {
		out[i] = Reason(i)
	}
	return out
}

// Refused counts refused links by reason.
type Refused [numReasons]int

// Policy is a crawl ready to admit links: its expressions compiled.
type Policy struct {
	Crawl frontier.Crawl
	// Guard, when set, refuses links whose host is an IP literal of a
	// special-purpose range (loopback, private, link-local, ...) or
	// localhost that fetch.allowed_networks does not list: the assistants
	// would refuse to fetch them (blocked_address), so they are not stored.
	Guard       *netguard.Guard
	allow, deny []*regexp.Regexp
}

// Compile checks c and compiles its expressions. Errors name the field.
func Compile(c frontier.Crawl) (*Policy, error) {
	if err := Validate(c); err != nil {
		return nil, err
	}
	p := &Policy{Crawl: c}
	for _, e := range c.Allow {
		p.allow = append(p.allow, regexp.MustCompile(e)) // Validate compiled it
	}
	for _, e := range c.Deny {
		p.deny = append(p.deny, regexp.MustCompile(e))
	}
	return p, nil
}

// Validate reports every problem of a crawl policy at once, each naming
// its field as `master crawl create` spells it.
func Validate(c frontier.Crawl) error {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	if !validName(c.Name) {
		add("--name %q: want 1-63 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit", c.Name)
	}
	switch c.Scope {
	case frontier.ScopeHost, frontier.ScopeDomain, frontier.ScopeAny:
	default:
		add("--scope %q: want host, domain or any", c.Scope)
	}
	for _, f := range []struct {
		name  string
		exprs []string
	}{{"--allow", c.Allow}, {"--deny", c.Deny}} {
		for _, e := range f.exprs {
			if _, err := regexp.Compile(e); err != nil {
				add("%s %q: %v", f.name, e, err)
			}
		}
	}
	for _, f := range []struct {
		name      string
		v, lo, hi int
	}{
		{"--max-depth", c.MaxDepth, 0, 1000},
		{"--site-budget", c.SiteBudget, 1, 1 << 30},
		{"--max-links", c.MaxLinks, 0, 100000},
		{"--max-url-length", c.MaxURLLength, 16, urlnorm.MaxLength},
		{"--max-path-segments", c.MaxPathSegments, 1, 1000},
		{"--max-repeated-segments", c.MaxRepeatedSegments, 1, 1000},
	} {
		if f.v < f.lo || f.v > f.hi {
			add("%s %d: want %d..%d", f.name, f.v, f.lo, f.hi)
		}
	}
	rv := c.Revisit
	switch rv.Mode {
	case frontier.RevisitNone, frontier.RevisitFixed, frontier.RevisitAdaptive, "": // "": none
	default:
		add("--revisit %q: want none, fixed or adaptive", rv.Mode)
	}
	if rv.Revisits() {
		for _, f := range []struct {
			name string
			v    time.Duration
		}{{"--revisit-done", rv.Done}, {"--revisit-failed", rv.Failed}, {"--revisit-dead", rv.Dead}} {
			if f.v < 0 {
				add("%s %v: want 0 (never) or a positive duration", f.name, f.v)
			}
		}
		if rv.Min <= 0 || rv.Max < rv.Min {
			add("--revisit-min %v, --revisit-max %v: want 0 < min <= max", rv.Min, rv.Max)
		}
	}
	if e := c.Schedule.Every; e != 0 && e < time.Second {
		add("--every %v: want 0 (unscheduled) or at least 1s", e)
	}
	if cr := c.Schedule.Cron; cr != "" {
		if _, err := cron.ParseStandard(cr); err != nil {
			add("--cron %q: %v (want five fields: minute hour day-of-month month day-of-week, e.g. \"*/10 * * * *\")", cr, err)
		}
		if c.Schedule.Every != 0 {
			add("--cron and --every: give one schedule")
		}
	}
	switch c.Schedule.Overlap {
	case frontier.OverlapSkip, frontier.OverlapMerge, "":
	default:
		add("--overlap %q: want skip or merge", c.Schedule.Overlap)
	}
	if r := c.Retention; r != 0 && r < time.Second {
		add("--retention %v: want 0 (the deployment default) or at least 1s", r)
	}
	if len(bad) > 0 {
		return fmt.Errorf("crawl policy: %s", strings.Join(bad, "; "))
	}
	return nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Links returns the links that may enter the frontier, in order, each at
// most once, and adds the others to refused. The result is nil when the
// crawl does not discover links.
func (p *Policy) Links(parent Parent, links []Link, refused *Refused) []frontier.Link {
	if len(links) == 0 {
		return nil
	}
	seedSite := urlnorm.Site(parent.SeedHost)
	out := make([]frontier.Link, 0, len(links))
	seen := make(map[[16]byte]struct{}, len(links))
	for _, l := range links {
		u, reason, ok := p.check(parent, seedSite, l)
		if !ok {
			refused[reason]++
			continue
		}
		if _, dup := seen[u.Key]; dup {
			continue
		}
		seen[u.Key] = struct{}{}
		out = append(out, u)
	}
	return out
}

func (p *Policy) check(parent Parent, seedSite string, l Link) (frontier.Link, Reason, bool) {
	c := &p.Crawl
	norm, err := urlnorm.Normalize(l.URL)
	if err != nil {
		return frontier.Link{}, Invalid, false
	}
	if len(norm) > c.MaxURLLength {
		return frontier.Link{}, URLLength, false
	}
	host, _ := urlnorm.Host(norm) // norm normalises, so this cannot fail
	if p.Guard != nil && p.Guard.CheckHost(host) != nil {
		return frontier.Link{}, BlockedAddress, false
	}
	segs, repeated := pathSegments(norm)
	if segs > c.MaxPathSegments {
		return frontier.Link{}, PathSegments, false
	}
	if repeated > c.MaxRepeatedSegments {
		return frontier.Link{}, RepeatedSegments, false
	}
	depth := parent.Depth + 1
	switch l.Kind {
	case Redirect:
		depth = parent.Depth
	case Sitemap:
		depth = 1
	}
	if int(depth) > c.MaxDepth {
		return frontier.Link{}, Depth, false
	}
	site := urlnorm.Site(host)
	seedHost := parent.SeedHost
	if l.Kind == Redirect && parent.Depth == 0 {
		// A seed that redirects names the site it means: the target is a
		// seed of its own (example.com -> www.example.com in host scope).
		seedHost, seedSite = host, site
	}
	switch c.Scope {
	case frontier.ScopeHost:
		if host != seedHost {
			return frontier.Link{}, Scope, false
		}
	case frontier.ScopeDomain:
		if site != seedSite {
			return frontier.Link{}, Scope, false
		}
	}
	if !p.patternOK(norm) {
		return frontier.Link{}, Pattern, false
	}
	return frontier.Link{URL: norm, Key: frontier.Key(norm), Host: host, Domain: site,
		Shard: frontier.Shard(site), Depth: depth, SeedHost: seedHost}, 0, true
}

func (p *Policy) patternOK(u string) bool {
	if len(p.allow) > 0 {
		ok := false
		for _, re := range p.allow {
			if re.MatchString(u) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, re := range p.deny {
		if re.MatchString(u) {
			return false
		}
	}
	return true
}

// pathSegments returns the number of non-empty segments of a normalised
// URL's path and the most times any one segment occurs.
func pathSegments(u string) (n, repeated int) {
	rest := u[strings.Index(u, "://")+3:]
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return 0, 0
	}
	path := rest[i:]
	if q := strings.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	var counts map[string]int
	for seg := range strings.SplitSeq(strings.Trim(path, "/"), "/") {
		if seg == "" {
			continue
		}
		n++
		if counts == nil {
			counts = make(map[string]int, 8)
		}
		counts[seg]++
		repeated = max(repeated, counts[seg])
	}
	return n, repeated
}
