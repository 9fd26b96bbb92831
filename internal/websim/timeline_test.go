package websim

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// overlaps reports the first pair of spans (sorted by start) where a
// request started before the previous one ended.
func overlaps(spans []RequestSpan) (a, b RequestSpan, ok bool) {
	for i := 1; i < len(spans); i++ {
		if spans[i].Start.Before(spans[i-1].End) {
			return spans[i-1], spans[i], true
		}
	}
	return a, b, false
}

func TestTimeline(t *testing.T) {
	cfg := testConfig(100)
	cfg.TimelineSize = 3
	cfg.LatencyMedian, cfg.LatencySigma = 20*time.Millisecond, 0
	s := startSim(t, cfg)
	c := testClient(t, s.Addr(), 5*time.Second)
	d := s.Domain(firstRank(t, s, homeIs(HomeOK)))

	// Sequential requests: recorded in order, never overlapping, the
	// oldest dropped beyond the ring's size.
	begin := time.Now()
	for _, p := range []string{"/robots.txt", "/", "/about", "/about?x=1"} {
		mustGet(t, c, "http://"+d+p)
	}
	mustGet(t, c, "http://www."+d+"/about")
	spans := s.HostTimeline(strings.ToUpper(d) + ":80")
	var paths []string
	for _, sp := range spans {
		paths = append(paths, sp.Path)
		if sp.Host != d || sp.Start.Before(begin) || sp.End.Sub(sp.Start) < 20*time.Millisecond {
			t.Errorf("span %+v", sp)
		}
	}
	if strings.Join(paths, " ") != "/ /about /about?x=1" {
		t.Errorf("paths %q, want the last 3", paths)
	}
	if a, b, ok := overlaps(spans); ok {
		t.Errorf("sequential requests overlap: %+v %+v", a, b)
	}
	if site := s.SiteTimeline("www." + d); len(site) != 4 || site[3].Host != "www."+d {
		t.Errorf("SiteTimeline: %+v", site)
	}

	// Concurrent requests to one host show up as overlapping spans.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			resp, err := c.Get("http://" + d + "/about")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if _, _, ok := overlaps(s.HostTimeline(d)); !ok {
		t.Errorf("concurrent requests do not overlap: %+v", s.HostTimeline(d))
	}

	var b bytes.Buffer
	if err := s.WriteTimeline(&b); err != nil {
		t.Fatal(err)
	}
	back, err := ReadTimeline(&b)
	if err != nil {
		t.Fatal(err)
	}
	all := s.Timelines()
	if len(back) != len(all) || len(all) != 4 {
		t.Fatalf("round trip: %d spans, %d recorded", len(back), len(all))
	}
	for i := range all {
		if back[i].Host != all[i].Host || back[i].Path != all[i].Path || !back[i].Start.Equal(all[i].Start) || !back[i].End.Equal(all[i].End) {
			t.Errorf("span %d: %+v, recorded %+v", i, back[i], all[i])
		}
	}
	for _, in := range []string{"", "host,path\n", "host,path,start_unix_ns,end_unix_ns\na,/,x,1\n", "host,path,start_unix_ns,end_unix_ns\na,/,5,3\n"} {
		if _, err := ReadTimeline(strings.NewReader(in)); err == nil {
			t.Errorf("ReadTimeline(%q) accepted", in)
		}
	}

	off := startSim(t, testConfig(10))
	od := off.Domain(firstRank(t, off, homeIs(HomeOK)))
	mustGet(t, testClient(t, off.Addr(), 5*time.Second), "http://"+od+"/about")
	if off.HostTimeline(od) != nil || off.Timelines() != nil {
		t.Error("recording without TimelineSize")
	}
}
