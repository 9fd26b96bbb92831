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
)

// RequestCount is how many requests one (host, path) received.
type RequestCount struct {
	Host  string // as served: the listed domain or its www. alias, lower case, no port
	Path  string // as received, with "?query" when the request had one
	Count int64
}

// RequestsHeader is the header line of [Sim.WriteRequests].
var RequestsHeader = []string{"host", "path", "count"}

// pidPaths maps a profile-defined path id back to its path.
var pidPaths = [numPids]string{
	pidRobots: robotsPath, pidRoot: "/", pidLanding: landingPath, pidHop1: "/hop/1",
	pidHop2: "/hop/2", pidHop3: "/hop/3", pidAbout: aboutPath, pidPrivate: privateHome,
}

// RequestCounts returns the count of every (host, path) requested so far,
// sorted by host and path: [Sim.Requests] for all of them at once, for a
// process (cmd/websim) to hand its counts to a test that runs it.
func (s *Sim) RequestCounts() []RequestCount {
	var out []RequestCount
	for i := range s.counters.shards {
		sh := &s.counters.shards[i]
		sh.mu.Lock()
		for k, n := range sh.known {
			rank, www, pid := int(k>>4), k&(1<<3) != 0, int(k&7)
			host := s.Domain(rank)
			if www {
				host = "www." + host
			}
			out = append(out, RequestCount{Host: host, Path: pidPaths[pid], Count: n})
		}
		for k, n := range sh.pages {
			out = append(out, RequestCount{Host: s.Domain(int(k >> 20)), Path: pagePath(int(k & (1<<20 - 1))), Count: n})
		}
		for k, n := range sh.other {
			out = append(out, RequestCount{Host: k.host, Path: k.path, Count: n})
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b RequestCount) int {
		return cmp.Or(strings.Compare(a.Host, b.Host), strings.Compare(a.Path, b.Path))
	})
	return out
}

// WriteRequests writes [Sim.RequestCounts] as CSV with the header
// [RequestsHeader].
func (s *Sim) WriteRequests(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(RequestsHeader); err != nil {
		return err
	}
	for _, c := range s.RequestCounts() {
		if err := cw.Write([]string{c.Host, c.Path, strconv.FormatInt(c.Count, 10)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadRequests reads what [Sim.WriteRequests] wrote.
func ReadRequests(r io.Reader) ([]RequestCount, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(RequestsHeader)
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("request counts: line 1: missing header")
	}
	if err != nil {
		return nil, fmt.Errorf("request counts: %w", err)
	}
	if !slices.Equal(head, RequestsHeader) {
		return nil, fmt.Errorf("request counts: line 1: header is %q, want %q",
			strings.Join(head, ","), strings.Join(RequestsHeader, ","))
	}
	var out []RequestCount
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("request counts: %w", err)
		}
		n, err := strconv.ParseInt(rec[2], 10, 64)
		if err != nil || n < 1 {
			line, _ := cr.FieldPos(2)
			return nil, fmt.Errorf("request counts: line %d: count %q is not a positive integer", line, rec[2])
		}
		out = append(out, RequestCount{Host: rec[0], Path: rec[1], Count: n})
	}
}
