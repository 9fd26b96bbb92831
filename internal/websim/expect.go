package websim

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
)

// State is the final state of a crawled URL.
type State string

// States.
const (
	StateDone   State = "done"   // fetched with a 2xx
	StateFailed State = "failed" // permanent failure
	StateDead   State = "dead"   // transient failure on every attempt
)

// Class classifies the outcome of a crawled URL.
type Class string

// Classes.
const (
	ClassOK                Class = "ok"
	ClassHTTP4xx           Class = "http_4xx"
	ClassHTTP429           Class = "http_429"
	ClassHTTP5xx           Class = "http_5xx"
	ClassRobotsDisallowed  Class = "robots_disallowed"
	ClassRobotsUnavailable Class = "robots_unavailable"
	ClassTimeout           Class = "timeout"
	ClassDNSNotFound       Class = "dns_not_found"
	ClassTooManyRedirects  Class = "too_many_redirects"
)

// RobotsOutcome is what robots.txt said about the crawled URL.
type RobotsOutcome string

// Robots outcomes.
const (
	RobotsAllowed     RobotsOutcome = "allowed"
	RobotsDisallowed  RobotsOutcome = "disallowed"
	RobotsUnavailable RobotsOutcome = "unavailable"
)

var (
	validStates  = []State{StateDone, StateFailed, StateDead}
	validClasses = []Class{ClassOK, ClassHTTP4xx, ClassHTTP429, ClassHTTP5xx, ClassRobotsDisallowed,
		ClassRobotsUnavailable, ClassTimeout, ClassDNSNotFound, ClassTooManyRedirects}
	validRobots = []RobotsOutcome{RobotsAllowed, RobotsDisallowed, RobotsUnavailable}
)

// Classes returns every Class.
func Classes() []Class { return append([]Class(nil), validClasses...) }

// Expectation is the expected final outcome of a correct polite crawl of
// http://<Domain>/: robots.txt honoured, up to 5 redirects followed, a page
// timeout shorter than Config.HangFor (and longer than Config.LatencyMax +
// Config.RobotsSlowDelay), a body cap (1 MiB) that truncates rather than
// fails, and transient failures (5xx, 429, timeouts, robots.txt 5xx or
// timeout) retried up to max_attempts >= 3 times. It is one row of the
// ground-truth file.
type Expectation struct {
	Rank   int    // Tranco rank, 1-based
	Domain string // listed domain
	URL    string // seed URL, http://<Domain>/
	State  State
	Class  Class
	// HTTPStatus is the status of the last response received, 0 if none
	// (unknown host, robots verdict before any page fetch, timeout).
	HTTPStatus int
	// FinalURL is the last URL the crawler reached: the redirect target for
	// followed redirects (also when robots.txt forbids fetching it), the
	// seed URL otherwise.
	FinalURL string
	// Title is the decoded, trimmed <title> of the final page; "" if none.
	Title  string
	Robots RobotsOutcome
}

// GroundTruthHeader is the header row of the ground-truth CSV.
var GroundTruthHeader = []string{"rank", "domain", "url", "state", "class", "http_status", "final_url", "title", "robots"}

// Expect returns the expected outcome for rank; the zero Expectation if
// rank is outside 1..Domains.
func (s *Sim) Expect(rank int) Expectation {
	if rank < 1 || rank > s.cfg.Domains {
		return Expectation{}
	}
	p := s.profile(rank)
	return s.expect(&p)
}

func (s *Sim) expect(p *profile) Expectation {
	d := p.domain()
	e := Expectation{Rank: p.rank, Domain: d, URL: "http://" + d + "/", Robots: RobotsAllowed}
	e.FinalURL = e.URL
	set := func(st State, c Class, status int) Expectation {
		e.State, e.Class, e.HTTPStatus = st, c, status
		return e
	}
	if p.home == HomeUnknownHost {
		e.Robots = RobotsUnavailable
		return set(StateFailed, ClassDNSNotFound, 0)
	}
	switch p.robots {
	case RobotsDisallowAll:
		e.Robots = RobotsDisallowed
		return set(StateFailed, ClassRobotsDisallowed, 0)
	case RobotsServerError, RobotsHang:
		e.Robots = RobotsUnavailable
		return set(StateDead, ClassRobotsUnavailable, 0)
	}
	switch p.home {
	case HomeRedirect:
		host := d
		if p.hops[p.nHops-1].www {
			host = "www." + d
		}
		e.FinalURL = "http://" + host + landingPath
	case HomeRedirectLoop:
		return set(StateFailed, ClassTooManyRedirects, p.code)
	case HomeRedirectDisallowed:
		e.Robots = RobotsDisallowed
		e.FinalURL = "http://" + d + privateHome
		return set(StateFailed, ClassRobotsDisallowed, p.code)
	case HomeNotFound:
		return set(StateFailed, ClassHTTP4xx, 404)
	case HomeGone:
		return set(StateFailed, ClassHTTP4xx, 410)
	case HomeServerError:
		return set(StateDead, ClassHTTP5xx, 500)
	case HomeUnavailable:
		return set(StateDead, ClassHTTP5xx, 503)
	case HomeTooManyRequests:
		return set(StateDead, ClassHTTP429, 429)
	case HomeHang:
		return set(StateDead, ClassTimeout, 0)
	}
	e.Title = homeTitle(p.home, d)
	return set(StateDone, ClassOK, 200)
}

// All iterates over the expectations of ranks 1..Domains in order.
func (s *Sim) All() iter.Seq[Expectation] {
	return func(yield func(Expectation) bool) {
		for r := 1; r <= s.cfg.Domains; r++ {
			if !yield(s.Expect(r)) {
				return
			}
		}
	}
}

// WriteTranco writes the domain list in Tranco top-1m.csv format:
// "rank,domain" lines ending in CRLF, no header.
func (s *Sim) WriteTranco(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	for r := 1; r <= s.cfg.Domains; r++ {
		p := s.profile(r)
		line = strconv.AppendInt(line[:0], int64(r), 10)
		line = append(line, ',')
		line = appendDomain(line, &p)
		line = append(line, '\r', '\n')
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteGroundTruth writes the expectations of every domain as CSV with
// the header [GroundTruthHeader].
func (s *Sim) WriteGroundTruth(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(GroundTruthHeader); err != nil {
		return err
	}
	rec := make([]string, len(GroundTruthHeader))
	for e := range s.All() {
		if err := cw.Write(e.record(rec)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func (e *Expectation) record(rec []string) []string {
	rec[0] = strconv.Itoa(e.Rank)
	rec[1] = e.Domain
	rec[2] = e.URL
	rec[3] = string(e.State)
	rec[4] = string(e.Class)
	rec[5] = strconv.Itoa(e.HTTPStatus)
	rec[6] = e.FinalURL
	rec[7] = e.Title
	rec[8] = string(e.Robots)
	return rec
}

// ReadGroundTruth parses a ground-truth CSV as written by
// [Sim.WriteGroundTruth]. Errors name the offending line.
func ReadGroundTruth(r io.Reader) ([]Expectation, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("ground truth: line 1: missing header")
	}
	if err != nil {
		return nil, fmt.Errorf("ground truth: %w", err)
	}
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff")
	}
	if strings.Join(head, ",") != strings.Join(GroundTruthHeader, ",") {
		return nil, fmt.Errorf("ground truth: line 1: header is %q, want %q",
			strings.Join(head, ","), strings.Join(GroundTruthHeader, ","))
	}
	var out []Expectation
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("ground truth: %w", err)
		}
		line, _ := cr.FieldPos(0)
		e, err := parseRecord(rec)
		if err != nil {
			return nil, fmt.Errorf("ground truth: line %d: %w", line, err)
		}
		out = append(out, e)
	}
}

func parseRecord(rec []string) (Expectation, error) {
	var e Expectation
	if len(rec) != len(GroundTruthHeader) {
		return e, fmt.Errorf("%d fields, want %d", len(rec), len(GroundTruthHeader))
	}
	rank, err := strconv.Atoi(rec[0])
	if err != nil || rank < 1 {
		return e, fmt.Errorf("rank %q: want a positive integer", rec[0])
	}
	status, err := strconv.Atoi(rec[5])
	if err != nil || status < 0 || status > 999 {
		return e, fmt.Errorf("http_status %q: want an integer in 0..999", rec[5])
	}
	e = Expectation{
		Rank:       rank,
		Domain:     rec[1],
		URL:        rec[2],
		State:      State(rec[3]),
		Class:      Class(rec[4]),
		HTTPStatus: status,
		FinalURL:   rec[6],
		Title:      rec[7],
		Robots:     RobotsOutcome(rec[8]),
	}
	switch {
	case e.Domain == "":
		return e, errors.New("empty domain")
	case e.URL == "":
		return e, errors.New("empty url")
	case !slices.Contains(validStates, e.State):
		return e, fmt.Errorf("state %q: want one of %v", rec[3], validStates)
	case !slices.Contains(validClasses, e.Class):
		return e, fmt.Errorf("class %q: want one of %v", rec[4], validClasses)
	case !slices.Contains(validRobots, e.Robots):
		return e, fmt.Errorf("robots %q: want one of %v", rec[8], validRobots)
	case (e.State == StateDone) != (e.Class == ClassOK):
		return e, fmt.Errorf("state %q does not fit class %q", e.State, e.Class)
	}
	return e, nil
}
