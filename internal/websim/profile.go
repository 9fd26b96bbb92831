package websim

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// HomeKind is the behaviour of a domain's home page "/".
type HomeKind uint8

// Home page kinds. See the package documentation for the expected outcome
// of each.
const (
	HomeOK                 HomeKind = iota // 200 HTML with a <title>
	HomeRedirect                           // 1-3 redirect hops ending in 200
	HomeRedirectLoop                       // / redirects to / forever
	HomeRedirectDisallowed                 // / redirects into robots-disallowed /private/
	HomeNotFound                           // 404
	HomeGone                               // 410
	HomeServerError                        // 500 always
	HomeUnavailable                        // 503 + Retry-After: 1 always
	HomeFlaky                              // 503 on the first request of /, then 200
	HomeTooManyRequests                    // 429 + Retry-After: 1 always
	HomeHang                               // no answer for HangFor
	HomeHuge                               // HugeBodySize streamed HTML body
	HomeJSON                               // application/json
	HomePNG                                // image/png
	HomeBrokenHTML                         // unclosed tags, title intact
	HomeLatin1                             // ISO-8859-1 via Content-Type header
	HomeEUCKR                              // EUC-KR via <meta charset>
	HomeUnknownHost                        // .invalid domain, never served
	numHomeKinds
)

var homeKindNames = [numHomeKinds]string{
	"ok", "redirect", "redirect_loop", "redirect_disallowed", "not_found", "gone",
	"server_error", "unavailable", "flaky", "too_many_requests", "hang", "huge",
	"json", "png", "broken_html", "latin1", "euc_kr", "unknown_host",
}

// String returns the kind's name, as used by [Fractions.Set].
func (k HomeKind) String() string {
	if k < numHomeKinds {
		return homeKindNames[k]
	}
	return "HomeKind(" + strconv.Itoa(int(k)) + ")"
}

// HomeKinds returns every home kind in declaration order.
func HomeKinds() []HomeKind {
	ks := make([]HomeKind, numHomeKinds)
	for i := range ks {
		ks[i] = HomeKind(i)
	}
	return ks
}

// RobotsKind is the behaviour of a domain's /robots.txt.
type RobotsKind uint8

// Robots.txt kinds. See the package documentation for the expected outcome
// of each.
const (
	RobotsAllowAll     RobotsKind = iota // 200, allows everything
	RobotsDisallowAll                    // 200, "Disallow: /"
	RobotsDisallowSome                   // 200, "Disallow: /private/"
	RobotsCrawlDelay                     // 200, allow all, "Crawl-delay: 1"
	RobotsNotFound                       // 404 (allow all)
	RobotsServerError                    // 500 always (unavailable)
	RobotsSlow                           // allow all after RobotsSlowDelay
	RobotsHang                           // no answer for HangFor (unavailable)
	RobotsNone                           // not applicable: the host is not served
	numRobotsKinds
)

var robotsKindNames = [numRobotsKinds]string{
	"allow_all", "disallow_all", "disallow_some", "crawl_delay", "not_found",
	"server_error", "slow", "hang", "none",
}

// String returns the kind's name; [Fractions.Set] takes it prefixed with "robots_".
func (k RobotsKind) String() string {
	if k < numRobotsKinds {
		return robotsKindNames[k]
	}
	return "RobotsKind(" + strconv.Itoa(int(k)) + ")"
}

// RobotsKinds returns every robots kind that can be drawn (RobotsNone excluded).
func RobotsKinds() []RobotsKind {
	ks := make([]RobotsKind, 0, numRobotsKinds-1)
	for i := RobotsKind(0); i < RobotsNone; i++ {
		ks = append(ks, i)
	}
	return ks
}

// masksHome reports whether the robots kind decides the outcome whatever
// the home page does.
func (k RobotsKind) masksHome() bool {
	return k == RobotsDisallowAll || k == RobotsServerError || k == RobotsHang
}

// disallows reports whether a robots.txt of kind k forbids path (robots.txt
// itself is never forbidden). An unavailable robots.txt (5xx or hang) means
// complete disallow (RFC 9309 section 2.3.1.4).
func (k RobotsKind) disallows(path string) bool {
	switch k {
	case RobotsDisallowAll, RobotsServerError, RobotsHang:
		return path != "/robots.txt"
	case RobotsDisallowSome:
		return strings.HasPrefix(path, privatePrefix)
	}
	return false
}

// Profile is the complete, deterministic description of one domain.
type Profile struct {
	Rank   int
	Domain string
	Home   HomeKind
	Robots RobotsKind
	// Site is true when the domain is a site ([Sim.Site] describes it).
	Site bool
	// Redirects lists, for redirecting home kinds, the absolute target of
	// each redirect served starting from http://Domain/ (for a loop: the
	// single self-redirect). RedirectCodes gives the matching status codes.
	Redirects     []string
	RedirectCodes []int
}

// Paths with a meaning in some profile.
const (
	robotsPath    = "/robots.txt"
	landingPath   = "/landing"
	aboutPath     = "/about"
	privatePrefix = "/private/"
	privateHome   = "/private/home"
	hopPrefix     = "/hop/"
	maxHops       = 3
)

// hop is one redirect response of a chain.
type hop struct {
	code     int
	www      bool // target host is www.<domain>
	relative bool // Location is a relative path (target host == current host)
}

// profile is the allocation-free internal form of Profile.
type profile struct {
	rank   int
	word   uint16
	home   HomeKind
	robots RobotsKind
	nHops  int
	hops   [maxHops]hop
	code   int // redirect code for loop / redirect_disallowed
	rel    bool

	site    bool        // the domain is a site (site.go)
	pages   int32       // regular pages of a site
	sitemap SitemapKind // how a site publishes its sitemap
}

// Hash salts: one per independent random decision.
const (
	saltWord uint64 = iota + 1
	saltHome
	saltRobots
	saltHopCount
	saltLoop
	saltCover
	saltLatency
	saltHop // + hop index (0..maxHops-1): values 8..10
)

// Salts of site decisions (site.go, sitegen.go), clear of saltHop's range
// so that adding them changed no existing universe.
const (
	saltSite uint64 = iota + 100
	saltSitePages
	saltSitemap
	saltSiteLink
	saltCalendar
	saltCross
	saltFresh
)

var redirectCodes = [4]int{301, 302, 307, 308}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hash returns a well-mixed 64-bit value for (seed, rank, salt).
func (s *Sim) hash(rank int, salt uint64) uint64 {
	return mix64(s.seedMix ^ mix64(uint64(rank)*0x9e3779b97f4a7c15+salt*0xd1b54a32d192ed03))
}

// unit maps a hash to [0,1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// pick returns the index of the first cumulative threshold above u, or 0
// (the remainder kind) if none.
func pick(cum []float64, u float64) int {
	for k, c := range cum {
		if u < c && k > 0 {
			return k
		}
	}
	return 0
}

// cumulative turns per-kind fractions (index 0 = remainder) into
// thresholds for pick.
func cumulative(fields []*float64) []float64 {
	cum := make([]float64, len(fields))
	acc := 0.0
	for k, p := range fields {
		if p != nil {
			acc += *p
		}
		cum[k] = acc
	}
	return cum
}

// baseKinds draws the home and robots kinds of rank, before coverage overrides.
func (s *Sim) baseKinds(rank int) (HomeKind, RobotsKind) {
	home := HomeKind(pick(s.homeCum, unit(s.hash(rank, saltHome))))
	return home, s.fixRobots(home, RobotsKind(pick(s.robotsCum, unit(s.hash(rank, saltRobots)))))
}

func (s *Sim) fixRobots(home HomeKind, r RobotsKind) RobotsKind {
	switch home {
	case HomeUnknownHost:
		return RobotsNone
	case HomeRedirectDisallowed:
		return RobotsDisallowSome
	}
	return r
}

// kinds returns the final kinds of rank.
func (s *Sim) kinds(rank int) (HomeKind, RobotsKind) {
	if o, ok := s.overrides[rank]; ok {
		return o.home, o.robots
	}
	return s.baseKinds(rank)
}

type override struct {
	home   HomeKind
	robots RobotsKind
}

// computeOverrides guarantees that every kind with a non-zero fraction
// occurs, unmasked, among the first CoverageWindow ranks by re-assigning
// some plain domains. It is deterministic.
func (s *Sim) computeOverrides() {
	s.overrides = map[int]override{}
	w := min(s.cfg.Domains, s.cfg.CoverageWindow)
	if s.cfg.CoverageWindow < 0 || w <= 0 {
		return
	}
	homes := make([]HomeKind, w+1)
	robots := make([]RobotsKind, w+1)
	var homeN [numHomeKinds]int     // occurrences not masked by robots
	var robotsN [numRobotsKinds]int // occurrences on a served host
	for r := 1; r <= w; r++ {
		homes[r], robots[r] = s.baseKinds(r)
		if !robots[r].masksHome() {
			homeN[homes[r]]++
		}
		robotsN[robots[r]]++
	}
	// Candidates: ranks whose kinds are common, plain ones first, in a
	// seed-dependent order.
	cands := make([]int, 0, w)
	for r := 1; r <= w; r++ {
		cands = append(cands, r)
	}
	plain := func(r int) bool { return homes[r] == HomeOK && robots[r] == RobotsAllowAll }
	slices.SortFunc(cands, func(a, b int) int {
		pa, pb := plain(a), plain(b)
		if pa != pb {
			if pa {
				return -1
			}
			return 1
		}
		ha, hb := s.hash(a, saltCover), s.hash(b, saltCover)
		if ha < hb {
			return -1
		} else if ha > hb {
			return 1
		}
		return a - b
	})
	used := map[int]bool{}
	take := func(ok func(r int) bool) int {
		for _, r := range cands {
			if !used[r] && ok(r) {
				used[r] = true
				return r
			}
		}
		return 0
	}
	homeFields := s.cfg.Fractions.homeFields()
	for k := HomeKind(1); k < numHomeKinds; k++ {
		if *homeFields[k] == 0 || homeN[k] > 0 {
			continue
		}
		r := take(func(r int) bool {
			return !robots[r].masksHome() && robots[r] != RobotsNone && homeN[homes[r]] > 1 && robotsN[robots[r]] > 1
		})
		if r == 0 {
			continue
		}
		homeN[homes[r]]--
		robotsN[robots[r]]--
		homes[r] = k
		robots[r] = s.fixRobots(k, robots[r])
		homeN[k]++
		robotsN[robots[r]]++
		s.overrides[r] = override{homes[r], robots[r]}
	}
	robotsFields := s.cfg.Fractions.robotsFields()
	for k := RobotsKind(1); k < RobotsNone; k++ {
		if *robotsFields[k] == 0 || robotsN[k] > 0 {
			continue
		}
		r := take(func(r int) bool {
			ok := homes[r] != HomeUnknownHost && homes[r] != HomeRedirectDisallowed && robotsN[robots[r]] > 1
			if ok && k.masksHome() && !robots[r].masksHome() {
				ok = homeN[homes[r]] > 1
			}
			return ok
		})
		if r == 0 {
			continue
		}
		if k.masksHome() && !robots[r].masksHome() {
			homeN[homes[r]]--
		}
		robotsN[robots[r]]--
		robots[r] = k
		robotsN[k]++
		s.overrides[r] = override{homes[r], robots[r]}
	}
}

// profile computes the internal profile of rank (1 <= rank <= Domains).
func (s *Sim) profile(rank int) profile {
	p := profile{rank: rank}
	p.word = uint16(s.hash(rank, saltWord) % uint64(len(words)))
	p.home, p.robots = s.kinds(rank)
	switch p.home {
	case HomeRedirect:
		p.nHops = 1 + int(s.hash(rank, saltHopCount)%maxHops)
		www := false // host of the current step
		for i := 0; i < p.nHops; i++ {
			h := s.hash(rank, saltHop+uint64(i))
			hp := hop{code: redirectCodes[h&3]}
			hp.www = h&(1<<2) != 0
			if hp.www == www {
				hp.relative = h&(1<<3) != 0
			}
			www = hp.www
			p.hops[i] = hp
		}
	case HomeRedirectLoop, HomeRedirectDisallowed:
		h := s.hash(rank, saltLoop)
		p.code = redirectCodes[h&3]
		p.rel = h&(1<<2) != 0
	}
	if s.isSite(rank, p.home) {
		p.site = true
		p.pages = int32(s.sitePages(rank))
		p.sitemap = SitemapKind(s.hash(rank, saltSitemap) % uint64(numSitemapKinds))
	}
	return p
}

// appendDomain appends the domain name of p.
func appendDomain(b []byte, p *profile) []byte {
	b = append(b, 'w')
	b = strconv.AppendInt(b, int64(p.rank), 10)
	b = append(b, '-')
	b = append(b, words[p.word]...)
	if p.home == HomeUnknownHost {
		return append(b, ".invalid"...)
	}
	return append(b, ".test"...)
}

func (p *profile) domain() string {
	var buf [64]byte
	return string(appendDomain(buf[:0], p))
}

// hopTarget returns the path of the step after step i of a redirect chain.
func hopTarget(i, n int) string {
	if i+1 >= n {
		return landingPath
	}
	return hopPrefix + strconv.Itoa(i+1)
}

// hopIndex parses "/hop/<k>" into k.
func hopIndex(path string) (int, bool) {
	rest, ok := strings.CutPrefix(path, hopPrefix)
	if !ok || len(rest) != 1 || rest[0] < '1' || rest[0] > '0'+maxHops {
		return 0, false
	}
	return int(rest[0] - '0'), true
}

// public converts p into a Profile.
func (p *profile) public() Profile {
	d := p.domain()
	out := Profile{Rank: p.rank, Domain: d, Home: p.home, Robots: p.robots, Site: p.site}
	switch p.home {
	case HomeRedirect:
		for i := 0; i < p.nHops; i++ {
			host := d
			if p.hops[i].www {
				host = "www." + d
			}
			out.Redirects = append(out.Redirects, "http://"+host+hopTarget(i, p.nHops))
			out.RedirectCodes = append(out.RedirectCodes, p.hops[i].code)
		}
	case HomeRedirectLoop:
		out.Redirects = []string{"http://" + d + "/"}
		out.RedirectCodes = []int{p.code}
	case HomeRedirectDisallowed:
		out.Redirects = []string{"http://" + d + privateHome}
		out.RedirectCodes = []int{p.code}
	}
	return out
}

// latency draws the deterministic log-normal latency of the n-th request
// (n >= 1) for (rank, key).
func (s *Sim) latency(rank int, key uint64, n int64) float64 {
	h1 := s.hash(rank, saltLatency^key<<8^uint64(n)<<20)
	h2 := mix64(h1 ^ 0x5851f42d4c957f2d)
	u1 := (float64(h1>>11) + 0.5) / (1 << 53) // (0,1)
	u2 := unit(h2)
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	return math.Exp(s.cfg.LatencySigma * z)
}

// words are the short words used in domain names.
var words = [...]string{
	"acorn", "amber", "anvil", "apple", "arrow", "aspen", "atlas", "bacon",
	"badge", "bagel", "baker", "basil", "beach", "berry", "birch", "bison",
	"blaze", "bloom", "board", "brick", "brook", "cabin", "cactus", "camel",
	"candle", "canoe", "cedar", "chalk", "cherry", "cider", "clover", "cobalt",
	"comet", "coral", "crane", "creek", "daisy", "delta", "denim", "dingo",
	"dune", "eagle", "ember", "fable", "falcon", "fern", "fiddle", "flint",
	"forge", "fox", "frost", "garnet", "gecko", "ginger", "glade", "grove",
	"harbor", "hazel", "heron", "honey", "igloo", "indigo", "iris", "ivory",
	"jade", "jasper", "juniper", "kayak", "kelp", "kettle", "kiwi", "lagoon",
	"lemon", "lilac", "lotus", "lynx", "maple", "marble", "meadow", "mint",
	"moss", "nectar", "nova", "oak", "olive", "onyx", "orbit", "otter",
	"panda", "pebble", "pepper", "pine", "plum", "prism", "quail", "quartz",
	"quill", "raven", "reef", "ridge", "river", "robin", "rust", "saffron",
	"sage", "shell", "slate", "sparrow", "spruce", "stone", "sumac", "tango",
	"thistle", "tiger", "topaz", "tulip", "umber", "valley", "velvet", "violet",
	"walnut", "willow", "wren", "yarrow", "yew", "zebra", "zenith", "zinc",
}
