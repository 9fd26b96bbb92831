package websim

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

// RequestCounts lists every requested (host, path) with its count, the
// www. alias and paths no profile defines included, and survives a round
// trip through WriteRequests and ReadRequests.
func TestRequestCounts(t *testing.T) {
	s := startSim(t, testConfig(100))
	c := testClient(t, s.Addr(), 5*time.Second)
	d := s.Domain(firstRank(t, s, homeIs(HomeOK)))
	for _, u := range []string{d + "/", d + "/", d + "/about", "www." + d + "/about",
		d + "/a,b", "nobody.test/x", d + "/robots.txt"} {
		mustGet(t, c, "http://"+u)
	}
	want := []RequestCount{
		{d, "/", 2}, {d, "/a,b", 1}, {d, "/about", 1}, {d, "/robots.txt", 1},
		{"nobody.test", "/x", 1},
		{"www." + d, "/about", 1},
	}
	slices.SortFunc(want, func(a, b RequestCount) int { return strings.Compare(a.Host+" "+a.Path, b.Host+" "+b.Path) })
	got := s.RequestCounts()
	if !slices.Equal(got, want) {
		t.Fatalf("RequestCounts:\n got  %v\n want %v", got, want)
	}
	for _, rc := range got {
		if n := s.Requests(rc.Host, rc.Path); n != rc.Count {
			t.Errorf("Requests(%s, %s) = %d, RequestCounts says %d", rc.Host, rc.Path, n, rc.Count)
		}
	}

	var buf bytes.Buffer
	if err := s.WriteRequests(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "host,path,count\n") || !strings.Contains(buf.String(), d+`,"/a,b",1`) {
		t.Errorf("WriteRequests wrote:\n%s", buf.String())
	}
	back, err := ReadRequests(&buf)
	if err != nil || !slices.Equal(back, want) {
		t.Fatalf("ReadRequests: %v, %v; want %v", back, err, want)
	}
}

func TestReadRequestsErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "missing header"},
		{"host,path,n\n", "header is"},
		{"host,path,count\na.test,/,x\n", "line 2: count"},
		{"host,path,count\na.test,/,0\n", "line 2: count"},
		{"host,path,count\na.test,/\n", "wrong number of fields"},
	}
	for _, c := range cases {
		if _, err := ReadRequests(strings.NewReader(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadRequests(%q): %v, want an error containing %q", c.in, err, c.want)
		}
	}
}
