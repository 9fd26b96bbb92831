package websim

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RequestSpan is one request as the server saw it: from the moment it
// arrived (on Linux the kernel's receive time of the segment that carried
// it, so websim's own scheduling delays do not skew the gaps; elsewhere
// when its handler started) to the moment the handler returned (response
// written, or the connection dropped). End is zero while the request is
// in flight.
type RequestSpan struct {
	Host  string // as served, lower case, no port
	Path  string // as received, with "?query" when the request had one
	Start time.Time
	End   time.Time
}

// tspan is a recorded span; seq tells a slot's occupant apart after the
// ring wrapped.
type tspan struct {
	path       string
	start, end time.Time
	seq        uint64
}

// hostRing keeps the last size spans of one host.
type hostRing struct {
	spans []tspan
	seq   uint64 // spans begun so far
}

type timelineShard struct {
	mu    sync.Mutex
	hosts map[string]*hostRing
}

// timelines records request spans per host when Config.TimelineSize > 0.
type timelines struct {
	size   int
	shards [numShards]timelineShard
}

func newTimelines(size int) *timelines {
	if size <= 0 {
		return nil
	}
	return &timelines{size: size}
}

// begin records the start of a request and returns what end needs.
func (t *timelines) begin(host, path string, start time.Time) (*hostRing, uint64) {
	sh := &t.shards[fnv(host)%numShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.hosts[host]
	if r == nil {
		if sh.hosts == nil {
			sh.hosts = make(map[string]*hostRing)
		}
		r = &hostRing{}
		sh.hosts[strings.Clone(host)] = r
	}
	r.seq++
	sp := tspan{path: strings.Clone(path), start: start, seq: r.seq}
	if len(r.spans) < t.size {
		r.spans = append(r.spans, sp)
	} else {
		r.spans[(r.seq-1)%uint64(t.size)] = sp
	}
	return r, r.seq
}

// end records the end of the request begun as seq on host, unless the ring
// has dropped it since.
func (t *timelines) end(host string, r *hostRing, seq uint64, end time.Time) {
	sh := &t.shards[fnv(host)%numShards]
	sh.mu.Lock()
	if i := (seq - 1) % uint64(t.size); int(i) < len(r.spans) && r.spans[i].seq == seq {
		r.spans[i].end = end
	}
	sh.mu.Unlock()
}

func (t *timelines) host(host string) []RequestSpan {
	sh := &t.shards[fnv(host)%numShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.hosts[host]
	if r == nil {
		return nil
	}
	out := make([]RequestSpan, 0, len(r.spans))
	for _, sp := range r.spans {
		out = append(out, RequestSpan{Host: host, Path: sp.path, Start: sp.start, End: sp.end})
	}
	sortSpans(out)
	return out
}

func (t *timelines) hostNames() []string {
	var names []string
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for h := range sh.hosts {
			names = append(names, h)
		}
		sh.mu.Unlock()
	}
	slices.Sort(names)
	return names
}

func sortSpans(s []RequestSpan) {
	slices.SortStableFunc(s, func(a, b RequestSpan) int { return a.Start.Compare(b.Start) })
}

// HostTimeline returns the recorded requests of host (port and case
// ignored; the www. alias is a host of its own), oldest first: the last
// Config.TimelineSize of them. It returns nil when recording is off.
// A polite crawler's spans on one host never overlap (each Start is at or
// after the previous End) and start at least the host's delay apart.
func (s *Sim) HostTimeline(host string) []RequestSpan {
	if s.timeline == nil {
		return nil
	}
	return s.timeline.host(normalizeHost(host))
}

// SiteTimeline returns the recorded requests of a domain and its www.
// alias together, oldest first: politeness by registrable domain.
func (s *Sim) SiteTimeline(domain string) []RequestSpan {
	d := strings.TrimPrefix(normalizeHost(domain), "www.")
	out := append(s.HostTimeline(d), s.HostTimeline("www."+d)...)
	sortSpans(out)
	return out
}

// Timelines returns the recorded requests of every host, by host and then
// oldest first.
func (s *Sim) Timelines() []RequestSpan {
	if s.timeline == nil {
		return nil
	}
	var out []RequestSpan
	for _, h := range s.timeline.hostNames() {
		out = append(out, s.timeline.host(h)...)
	}
	return out
}

// TimelineHeader is the header line of [Sim.WriteTimeline].
var TimelineHeader = []string{"host", "path", "start_unix_ns", "end_unix_ns"}

// WriteTimeline writes [Sim.Timelines] as CSV with the header
// [TimelineHeader]; times are Unix nanoseconds, an end of 0 is a request
// still in flight.
func (s *Sim) WriteTimeline(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(TimelineHeader); err != nil {
		return err
	}
	for _, sp := range s.Timelines() {
		end := int64(0)
		if !sp.End.IsZero() {
			end = sp.End.UnixNano()
		}
		if err := cw.Write([]string{sp.Host, sp.Path, strconv.FormatInt(sp.Start.UnixNano(), 10), strconv.FormatInt(end, 10)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadTimeline reads what [Sim.WriteTimeline] wrote. Times come back in
// the local zone without a monotonic reading.
func ReadTimeline(r io.Reader) ([]RequestSpan, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(TimelineHeader)
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("timeline: line 1: missing header")
	}
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	if !slices.Equal(head, TimelineHeader) {
		return nil, fmt.Errorf("timeline: line 1: header is %q, want %q", strings.Join(head, ","), strings.Join(TimelineHeader, ","))
	}
	var out []RequestSpan
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			slices.SortStableFunc(out, func(a, b RequestSpan) int {
				return cmp.Or(strings.Compare(a.Host, b.Host), a.Start.Compare(b.Start))
			})
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("timeline: %w", err)
		}
		line, _ := cr.FieldPos(0)
		start, err1 := strconv.ParseInt(rec[2], 10, 64)
		end, err2 := strconv.ParseInt(rec[3], 10, 64)
		if err1 != nil || err2 != nil || start <= 0 || end < 0 || (end != 0 && end < start) {
			return nil, fmt.Errorf("timeline: line %d: bad times %q, %q", line, rec[2], rec[3])
		}
		sp := RequestSpan{Host: rec[0], Path: rec[1], Start: time.Unix(0, start)}
		if end != 0 {
			sp.End = time.Unix(0, end)
		}
		out = append(out, sp)
	}
}
