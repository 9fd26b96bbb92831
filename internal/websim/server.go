package websim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sim is a running (or ready to run) synthetic web. All methods are safe
// for concurrent use.
type Sim struct {
	cfg       Config
	log       *slog.Logger
	seedMix   uint64
	homeCum   []float64
	robotsCum []float64
	overrides map[int]override // read-only after New

	counters    counters
	total       atomic.Int64
	misdirected atomic.Int64
	disallowed  disallowedLog
	changing    changingCounters
	timeline    *timelines // nil unless Config.TimelineSize > 0
	sessions    atomic.Uint64
	siteLimit   int // count mode: eligible ranks up to this one are sites

	mu        sync.Mutex // guards the lifecycle fields below
	started   bool
	closed    bool
	srv       *http.Server
	addr      string
	serveDone chan struct{}
	serveErr  error
	done      chan struct{} // closed by Close: ends hangs, sleeps and streams

	gate     sync.RWMutex // orders handlers.Add before handlers.Wait
	closing  bool
	handlers sync.WaitGroup

	// shutdownGrace is how long Close lets in-flight responses finish.
	shutdownGrace time.Duration
	// testHookHang, if set, is called when a hang starts (true) and ends (false).
	testHookHang func(begin bool)
}

// New validates cfg, fills defaults and derives the universe. It does not
// listen; call [Sim.Start].
func New(cfg Config) (*Sim, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sim{
		cfg:       cfg,
		log:       cfg.Logger,
		seedMix:   mix64(uint64(cfg.Seed) ^ 0x6a09e667f3bcc908),
		done:      make(chan struct{}),
		serveDone: make(chan struct{}),

		shutdownGrace: 2 * time.Second,
	}
	h := s.cfg.Fractions.homeFields()
	s.homeCum = cumulative(h[:])
	r := s.cfg.Fractions.robotsFields()
	s.robotsCum = cumulative(r[:])
	s.computeOverrides()
	s.computeSiteLimit()
	s.timeline = newTimelines(cfg.TimelineSize)
	return s, nil
}

// Config returns the effective configuration (defaults filled in).
func (s *Sim) Config() Config { return s.cfg }

// Start listens on Config.Addr and serves in the background. It returns
// once the listener is open (Addr is then valid).
func (s *Sim) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("websim: Start after Close")
	}
	if s.started {
		return errors.New("websim: already started")
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("websim: listen: %w", err)
	}
	s.started = true
	s.addr = ln.Addr().String()
	ln = newArrivalListener(ln) // request starts from the kernel (arrival_linux.go)
	s.srv = &http.Server{
		Handler:           s,
		ConnContext:       arrivalContext,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	srv := s.srv
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.serveErr = err
		close(s.serveDone)
	}()
	s.log.Info("listening", "addr", s.addr, "domains", s.cfg.Domains, "seed", s.cfg.Seed)
	return nil
}

// Addr returns the listen address ("127.0.0.1:port"), or "" before Start.
func (s *Sim) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close stops the server: it ends hangs, latency sleeps and body streams,
// closes the listener and all connections, and returns once every handler
// has returned. It is safe to call more than once.
func (s *Sim) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.shutdownGrace)
	err := srv.Shutdown(ctx)
	cancel()
	if err != nil {
		// Some client is not reading what we write: cut it off.
		_ = srv.Close()
	}
	<-s.serveDone
	s.gate.Lock()
	s.closing = true
	s.gate.Unlock()
	s.handlers.Wait()
	s.log.Info("closed", "requests", s.total.Load(), "disallowed_hits", s.disallowed.n.Load())
	return s.serveErr
}

// NumDomains returns Config.Domains.
func (s *Sim) NumDomains() int { return s.cfg.Domains }

// Domain returns the domain name of rank, "" if rank is out of range. Names
// look like "w42-maple.test"; unknown-host domains end in ".invalid".
func (s *Sim) Domain(rank int) string {
	if rank < 1 || rank > s.cfg.Domains {
		return ""
	}
	p := s.profile(rank)
	return p.domain()
}

// Profile returns the full profile of rank (zero Profile if out of range).
func (s *Sim) Profile(rank int) Profile {
	if rank < 1 || rank > s.cfg.Domains {
		return Profile{}
	}
	p := s.profile(rank)
	return p.public()
}

// Rank returns the rank of a listed domain name or its www. alias (port,
// case and a trailing dot are ignored). ok is false for other names.
func (s *Sim) Rank(host string) (rank int, ok bool) {
	rank, _, tld, ok := s.parseHost(normalizeHost(host))
	if !ok {
		return 0, false
	}
	p := s.profile(rank)
	if (p.home == HomeUnknownHost) != (tld == ".invalid") {
		return 0, false
	}
	return rank, true
}

// DialContext dials the Sim for any host under .test and fails with a
// "no such host" *net.DNSError for every other host, like the crawler's
// closed-world resolver override. Use it as http.Transport.DialContext.
func (s *Sim) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if !strings.HasSuffix(host, ".test") {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.Addr())
}

// Requests returns how many requests were served for host (as sent, port
// and case ignored) and path (as sent, with "?query" for requests that had
// one).
func (s *Sim) Requests(host, path string) int64 {
	host = normalizeHost(host)
	if rank, www, tld, ok := s.parseHost(host); ok && tld == ".test" && !strings.Contains(path, "?") {
		if pid := pathID(path); pid >= 0 {
			return s.counters.getKnown(knownKey(rank, www, pid))
		}
		if p := s.profile(rank); p.site && !www {
			if i, ok := parsePagePath(path); ok && i < int(p.pages) {
				return s.counters.getPage(pageKey(rank, i))
			}
		}
	}
	return s.counters.getOther(host, path)
}

// TotalRequests returns the number of requests received.
func (s *Sim) TotalRequests() int64 { return s.total.Load() }

// MisdirectedRequests returns the number of requests for hosts that websim
// does not serve (including the .invalid domains); a correct crawler makes
// none. They are answered 421.
func (s *Sim) MisdirectedRequests() int64 { return s.misdirected.Load() }

// DisallowedHits returns "host path" for every request (robots.txt itself
// excluded) to a path the host's robots.txt disallows, in arrival order.
// A robots.txt that answers 5xx or hangs disallows everything. It must be
// empty for a correct crawler. At most 10000 entries are kept;
// DisallowedHitCount is exact.
func (s *Sim) DisallowedHits() []string { return s.disallowed.list() }

// DisallowedHitCount returns the number of disallowed hits.
func (s *Sim) DisallowedHitCount() int64 { return s.disallowed.n.Load() }

// normalizeHost lower-cases host and strips a port and a trailing dot. It
// does not allocate for already-normal names.
func normalizeHost(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	return strings.ToLower(host)
}

// parseHost parses "[www.]w<rank>-<word>.<tld>" with tld .test or .invalid.
// The word must be the rank's word.
func (s *Sim) parseHost(host string) (rank int, www bool, tld string, ok bool) {
	h := host
	if rest, cut := strings.CutPrefix(h, "www."); cut {
		h, www = rest, true
	}
	if rest, cut := strings.CutSuffix(h, ".test"); cut {
		h, tld = rest, ".test"
	} else if rest, cut := strings.CutSuffix(h, ".invalid"); cut {
		h, tld = rest, ".invalid"
	} else {
		return 0, false, "", false
	}
	if len(h) < 4 || h[0] != 'w' || h[1] < '1' || h[1] > '9' {
		return 0, false, "", false
	}
	i := 1
	for i < len(h) && h[i] >= '0' && h[i] <= '9' {
		if rank > s.cfg.Domains {
			return 0, false, "", false
		}
		rank = rank*10 + int(h[i]-'0')
		i++
	}
	if rank < 1 || rank > s.cfg.Domains || i >= len(h) || h[i] != '-' {
		return 0, false, "", false
	}
	if h[i+1:] != words[s.hash(rank, saltWord)%uint64(len(words))] {
		return 0, false, "", false
	}
	return rank, www, tld, true
}

// enter registers a running handler; false once Close is draining.
func (s *Sim) enter() bool {
	s.gate.RLock()
	defer s.gate.RUnlock()
	if s.closing {
		return false
	}
	s.handlers.Add(1)
	return true
}

// abort ends the response by dropping the connection, so that a request cut
// short (client gone, Sim closing) never looks like a complete answer.
func abort() { panic(http.ErrAbortHandler) }

// wait blocks for d, returning false early if the request or the Sim ends.
func (s *Sim) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

func (s *Sim) hang(ctx context.Context) bool {
	if h := s.testHookHang; h != nil {
		h(true)
		defer h(false)
	}
	return s.wait(ctx, s.cfg.HangFor)
}

// drawLatency returns the latency of the n-th request of (rank, key).
func (s *Sim) drawLatency(rank int, key uint64, n int64) time.Duration {
	m := s.cfg.LatencyMedian
	if m <= 0 {
		return 0
	}
	f := float64(m)
	if s.cfg.LatencySigma > 0 {
		f *= s.latency(rank, key, n)
	}
	if f >= float64(s.cfg.LatencyMax) || math.IsNaN(f) {
		return s.cfg.LatencyMax
	}
	return time.Duration(f)
}

// ServeHTTP serves every domain by Host (or absolute-form request target).
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		w.Header()["Connection"] = []string{"close"}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	defer s.handlers.Done()
	s.total.Add(1)
	var start time.Time
	if s.timeline != nil {
		start = arrived(r)
	}

	host := normalizeHost(r.Host)
	path := r.URL.Path
	rawQuery := r.URL.RawQuery
	rank, www, tld, ok := s.parseHost(host)
	var p profile
	if ok && tld == ".test" {
		p = s.profile(rank)
		ok = p.home != HomeUnknownHost
	} else {
		ok = false
	}
	if !ok {
		s.misdirected.Add(1)
		n := s.counters.addOther(host, path)
		if d := s.drawLatency(0, fnv(host)^fnv(path), n); d > 0 && !s.wait(r.Context(), d) {
			abort()
		}
		writeText(w, http.StatusMisdirectedRequest, "websim: host not served\n")
		return
	}

	// Requests are counted by path as received, with the query if any.
	key := path
	if rawQuery != "" {
		key = path + "?" + rawQuery
	}
	pid := pathID(path)
	page := -1 // a site's regular page, counted by a compact key
	if p.site && !www && rawQuery == "" && pid < 0 {
		if i, ok := parsePagePath(path); ok && i < int(p.pages) {
			page = i
		}
	}
	var n int64
	var latKey uint64
	switch {
	case pid >= 0 && rawQuery == "":
		k := knownKey(rank, www, pid)
		n = s.counters.addKnown(k)
		latKey = k
	case page >= 0:
		n = s.counters.addPage(pageKey(rank, page))
		latKey = fnv(path)
	default:
		n = s.counters.addOther(host, key)
		latKey = fnv(key)
	}
	if s.timeline != nil {
		ring, seq := s.timeline.begin(host, key, start)
		defer func() { s.timeline.end(host, ring, seq, time.Now()) }()
	}
	if s.robotsForbids(&p, path) {
		s.disallowed.add(host, path)
	}
	if d := s.drawLatency(rank, latKey, n); d > 0 && !s.wait(r.Context(), d) {
		abort()
	}

	bare := host
	if www {
		bare = host[len("www."):]
	}
	if s.cfg.GzipBomb && path == GzipBombPath && rawQuery == "" {
		s.serveGzipBomb(w)
		return
	}
	if i, ok := s.changingIndex(&p, www, path); ok && rawQuery == "" {
		s.serveChanging(w, r, &p, bare, i)
		return
	}
	if p.site {
		// A site answers the canonical form of the request: session ids
		// and ;jsessionid= removed, parameters sorted, dot segments resolved.
		cpath := removeDotSegments(dropJSession(path))
		cquery := canonicalQuery(rawQuery)
		pid = -1
		if cquery == "" {
			pid = pathID(cpath)
		}
		if pid < 0 {
			s.serveSite(w, &p, host, www, cpath, cquery)
			return
		}
	}
	switch pid {
	case pidRobots:
		s.serveRobots(w, r, &p)
	case pidRoot:
		if p.site {
			s.serveSiteHome(w, &p, host, bare)
			return
		}
		s.serveHome(w, r, &p, bare, n)
	case pidLanding:
		if p.home != HomeRedirect {
			notFound(w)
			return
		}
		s.writePage(w, func(b []byte) []byte { return appendPage(b, titleOK, bare, p.robots == RobotsDisallowSome) })
	case pidHop1, pidHop2, pidHop3:
		k, _ := hopIndex(path)
		if p.home != HomeRedirect || k >= p.nHops {
			notFound(w)
			return
		}
		s.redirectHop(w, &p, bare, k)
	case pidAbout:
		s.writePage(w, func(b []byte) []byte { return appendPage(b, titleAbout, bare, false) })
	case pidPrivate:
		if p.robots != RobotsDisallowSome {
			notFound(w)
			return
		}
		s.writePage(w, func(b []byte) []byte { return appendPage(b, titlePriv, bare, false) })
	default:
		notFound(w)
	}
}

func (s *Sim) serveRobots(w http.ResponseWriter, r *http.Request, p *profile) {
	h := w.Header()
	h["Content-Type"] = ctText
	var body []byte
	if p.site && siteRobots(p.robots) {
		if p.robots == RobotsSlow && !s.wait(r.Context(), s.cfg.RobotsSlowDelay) {
			abort()
		}
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		*bp = s.appendSiteRobots((*bp)[:0], p)
		body = *bp
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return
	}
	switch p.robots {
	case RobotsDisallowAll:
		body = robotsDisallowAll
	case RobotsDisallowSome:
		body = robotsDisallowSome
	case RobotsCrawlDelay:
		body = robotsCrawlDelay
	case RobotsNotFound:
		notFound(w)
		return
	case RobotsServerError:
		writeText(w, http.StatusInternalServerError, "websim: robots.txt server error\n")
		return
	case RobotsSlow:
		if !s.wait(r.Context(), s.cfg.RobotsSlowDelay) {
			abort()
		}
		body = robotsAllow
	case RobotsHang:
		if !s.hang(r.Context()) {
			abort()
		}
		body = robotsAllow
	default:
		body = robotsAllow
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (s *Sim) serveHome(w http.ResponseWriter, r *http.Request, p *profile, bare string, n int64) {
	h := w.Header()
	private := p.robots == RobotsDisallowSome
	switch p.home {
	case HomeRedirect:
		s.redirectHop(w, p, bare, 0)
	case HomeRedirectLoop:
		redirect(w, p.code, p.rel, bare, "/")
	case HomeRedirectDisallowed:
		redirect(w, p.code, p.rel, bare, privateHome)
	case HomeNotFound:
		notFound(w)
	case HomeGone:
		writeText(w, http.StatusGone, "websim: gone\n")
	case HomeServerError:
		writeText(w, http.StatusInternalServerError, "websim: internal server error\n")
	case HomeUnavailable:
		h["Retry-After"] = retryAfter1
		writeText(w, http.StatusServiceUnavailable, "websim: unavailable\n")
	case HomeFlaky:
		if n <= 1 {
			writeText(w, http.StatusServiceUnavailable, "websim: flaky, try again\n")
			return
		}
		s.writePage(w, func(b []byte) []byte { return appendPage(b, titleOK, bare, private) })
	case HomeTooManyRequests:
		h["Retry-After"] = retryAfter1
		writeText(w, http.StatusTooManyRequests, "websim: too many requests\n")
	case HomeHang:
		if !s.hang(r.Context()) {
			abort()
		}
		s.writePage(w, func(b []byte) []byte { return appendPage(b, titleOK, bare, private) })
	case HomeHuge:
		s.streamHuge(w, r, bare)
	case HomeJSON:
		h["Content-Type"] = ctJSON
		s.writeBody(w, func(b []byte) []byte { return appendJSON(b, bare, p.rank) })
	case HomePNG:
		h["Content-Type"] = ctPNG
		h["Content-Length"] = []string{strconv.Itoa(len(pngBody))}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(pngBody)
	case HomeBrokenHTML:
		h["Content-Type"] = ctHTML
		s.writeBody(w, func(b []byte) []byte { return appendBroken(b, bare) })
	case HomeLatin1:
		h["Content-Type"] = ctLatin1
		s.writeBody(w, func(b []byte) []byte { return appendEncodedPage(b, pageHeadNoCS, titleLatin1Bytes, bare) })
	case HomeEUCKR:
		h["Content-Type"] = ctHTMLPlain
		s.writeBody(w, func(b []byte) []byte { return appendEncodedPage(b, pageHeadEUCKR, titleEUCKRBytes, bare) })
	default:
		s.writePage(w, func(b []byte) []byte { return appendPage(b, titleOK, bare, private) })
	}
}

// redirectHop answers step i of a redirect chain.
func (s *Sim) redirectHop(w http.ResponseWriter, p *profile, bare string, i int) {
	hp := p.hops[i]
	target := hopTarget(i, p.nHops)
	if hp.relative {
		redirect(w, hp.code, true, "", target)
		return
	}
	host := bare
	if hp.www {
		host = "www." + bare
	}
	redirect(w, hp.code, false, host, target)
}

// redirect answers code with Location path (relative) or http://host+path.
func redirect(w http.ResponseWriter, code int, relative bool, host, path string) {
	loc := path
	if !relative {
		loc = "http://" + host + path
	}
	h := w.Header()
	h["Location"] = []string{loc}
	h["Content-Length"] = []string{"0"}
	w.WriteHeader(code)
}

func notFound(w http.ResponseWriter) {
	writeText(w, http.StatusNotFound, "404 page not found\n")
}

func writeText(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h["Content-Type"] = ctText
	h["X-Content-Type-Options"] = nosniff
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// writePage writes a 200 UTF-8 HTML page rendered by fill.
func (s *Sim) writePage(w http.ResponseWriter, fill func([]byte) []byte) {
	w.Header()["Content-Type"] = ctHTML
	s.writeBody(w, fill)
}

// writeBody writes a 200 response whose body fill renders into a pooled buffer.
func (s *Sim) writeBody(w http.ResponseWriter, fill func([]byte) []byte) {
	bp := bufPool.Get().(*[]byte)
	b := fill((*bp)[:0])
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
}

// streamHuge streams exactly HugeBodySize bytes of HTML without a
// Content-Length; if the client goes away or the Sim closes first, the
// connection is dropped (never a clean end of a truncated body).
func (s *Sim) streamHuge(w http.ResponseWriter, r *http.Request, bare string) {
	w.Header()["Content-Type"] = ctHTML
	w.WriteHeader(http.StatusOK)
	var headBuf [256]byte
	head := appendHugeHead(headBuf[:0], bare)
	tail := pageTail
	remaining := s.cfg.HugeBodySize
	if int64(len(head)) > remaining {
		head = head[:remaining]
	}
	if _, err := w.Write(head); err != nil {
		abort()
	}
	remaining -= int64(len(head))
	ctx := r.Context()
	for remaining > int64(len(tail)) {
		select {
		case <-ctx.Done():
			abort()
		case <-s.done:
			abort()
		default:
		}
		chunk := hugeFiller
		if int64(len(chunk)) > remaining-int64(len(tail)) {
			chunk = chunk[:remaining-int64(len(tail))]
		}
		if _, err := w.Write(chunk); err != nil {
			abort()
		}
		remaining -= int64(len(chunk))
	}
	_, _ = w.Write(tail[:remaining])
}
