package websim

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
)

func groundTruth(t testing.TB, s *Sim) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := s.WriteGroundTruth(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGroundTruthRoundTrip(t *testing.T) {
	s := newSim(t, cfgN(2000, 1))
	data := groundTruth(t, s)
	if !bytes.HasPrefix(data, []byte("rank,domain,url,state,class,http_status,final_url,title,robots\n")) {
		t.Fatalf("header: %q", data[:80])
	}
	got, err := ReadGroundTruth(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Collect(s.All())
	if len(want) != 2000 || !slices.Equal(got, want) {
		t.Fatalf("round trip differs: %d rows read, %d expected", len(got), len(want))
	}
	for i, e := range want {
		if e != s.Expect(i+1) || e.Rank != i+1 {
			t.Fatalf("All()[%d] = %+v, Expect = %+v", i, e, s.Expect(i+1))
		}
	}
	// A UTF-8 BOM before the header is accepted.
	if _, err := ReadGroundTruth(bytes.NewReader(append([]byte("\ufeff"), data...))); err != nil {
		t.Fatalf("with BOM: %v", err)
	}
	// Out-of-range ranks.
	if (s.Expect(0) != Expectation{}) || (s.Expect(2001) != Expectation{}) || s.Domain(0) != "" {
		t.Fatal("out-of-range rank not zero")
	}
	// Early stop of All.
	n := 0
	for range s.All() {
		n++
		if n == 3 {
			break
		}
	}
}

// TestGroundTruthExamples pins a few rows to document the format.
func TestGroundTruthExamples(t *testing.T) {
	s := newSim(t, cfgN(2000, 1))
	byHome := map[HomeKind]Expectation{}
	for r := 1; r <= 2000; r++ {
		p := s.Profile(r)
		if _, ok := byHome[p.Home]; !ok && (p.Robots == RobotsAllowAll || p.Home == HomeUnknownHost) {
			byHome[p.Home] = s.Expect(r)
		}
	}
	check := func(k HomeKind, st State, c Class, status int, titled bool) {
		t.Helper()
		e := byHome[k]
		if e.State != st || e.Class != c || e.HTTPStatus != status || (e.Title != "") != titled {
			t.Errorf("%s: %+v", k, e)
		}
	}
	check(HomeOK, StateDone, ClassOK, 200, true)
	check(HomeRedirect, StateDone, ClassOK, 200, true)
	check(HomeRedirectLoop, StateFailed, ClassTooManyRedirects, byHome[HomeRedirectLoop].HTTPStatus, false)
	check(HomeNotFound, StateFailed, ClassHTTP4xx, 404, false)
	check(HomeGone, StateFailed, ClassHTTP4xx, 410, false)
	check(HomeServerError, StateDead, ClassHTTP5xx, 500, false)
	check(HomeUnavailable, StateDead, ClassHTTP5xx, 503, false)
	check(HomeFlaky, StateDone, ClassOK, 200, true)
	check(HomeTooManyRequests, StateDead, ClassHTTP429, 429, false)
	check(HomeHang, StateDead, ClassTimeout, 0, false)
	check(HomeHuge, StateDone, ClassOK, 200, true)
	check(HomeJSON, StateDone, ClassOK, 200, false)
	check(HomePNG, StateDone, ClassOK, 200, false)
	check(HomeBrokenHTML, StateDone, ClassOK, 200, true)
	check(HomeLatin1, StateDone, ClassOK, 200, true)
	check(HomeEUCKR, StateDone, ClassOK, 200, true)
	check(HomeUnknownHost, StateFailed, ClassDNSNotFound, 0, false)
	e := byHome[HomeOK]
	if e.Title != "Home of "+e.Domain || e.FinalURL != e.URL || e.URL != "http://"+e.Domain+"/" || e.Robots != RobotsAllowed {
		t.Errorf("ok row: %+v", e)
	}
	if e := byHome[HomeRedirect]; !strings.HasSuffix(e.FinalURL, "/landing") {
		t.Errorf("redirect row: %+v", e)
	}
	if e := byHome[HomeLatin1]; e.Title != "Café Zürich · "+e.Domain {
		t.Errorf("latin1 title %q", e.Title)
	}
	if e := byHome[HomeEUCKR]; e.Title != "한국어 홈페이지 - "+e.Domain {
		t.Errorf("euc-kr title %q", e.Title)
	}
}

func TestReadGroundTruthErrors(t *testing.T) {
	const head = "rank,domain,url,state,class,http_status,final_url,title,robots\n"
	const good = "1,w1-a.test,http://w1-a.test/,done,ok,200,http://w1-a.test/,Home of w1-a.test,allowed\n"
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "line 1: missing header"},
		{"bad header", "rank,domain\n" + good, "line 1: header"},
		{"short row", head + good + "2,w2-a.test,http://w2-a.test/,done,ok,200\n", "line 3: 6 fields"},
		{"bad rank", head + "x,w1-a.test,u,done,ok,200,u,t,allowed\n", `line 2: rank "x"`},
		{"zero rank", head + "0,w1-a.test,u,done,ok,200,u,t,allowed\n", `line 2: rank "0"`},
		{"bad status", head + good + good + "3,d,u,failed,http_4xx,four,u,,allowed\n", `line 4: http_status "four"`},
		{"status range", head + "3,d,u,failed,http_4xx,1000,u,,allowed\n", `line 2: http_status "1000"`},
		{"bad state", head + "1,d,u,finished,ok,200,u,,allowed\n", `line 2: state "finished"`},
		{"bad class", head + "1,d,u,failed,http_404,404,u,,allowed\n", `line 2: class "http_404"`},
		{"bad robots", head + "1,d,u,done,ok,200,u,,maybe\n", `line 2: robots "maybe"`},
		{"inconsistent", head + "1,d,u,done,http_5xx,500,u,,allowed\n", "line 2: state"},
		{"empty domain", head + "1,,u,done,ok,200,u,,allowed\n", "line 2: empty domain"},
		{"bare quote", head + good + "2,d\"x,u,done,ok,200,u,,allowed\n", "line 3"},
		{"multiline title then error", head + "1,d,u,done,ok,200,u,\"two\nlines\",allowed\n5,d,u,done,ok,200,u,,nope\n", "line 4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadGroundTruth(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
	got, err := ReadGroundTruth(strings.NewReader(head))
	if err != nil || len(got) != 0 {
		t.Fatalf("header only: %v %v", got, err)
	}
}

func FuzzReadGroundTruth(f *testing.F) {
	s := newSim(f, cfgN(12, 1))
	f.Add(groundTruth(f, s))
	f.Add([]byte(""))
	f.Add([]byte("rank,domain,url,state,class,http_status,final_url,title,robots\n1,d,u,done,ok,200,u,\"t,\"\"q\"\"\",allowed\n"))
	f.Add([]byte("rank,domain\n\"unterminated"))
	f.Add([]byte("\ufeffrank,domain,url,state,class,http_status,final_url,title,robots\r\n9,d,u,dead,timeout,0,u,,unavailable\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ReadGroundTruth(bytes.NewReader(data))
		if err != nil {
			if !strings.Contains(err.Error(), "line ") {
				t.Fatalf("error without a line number: %v", err)
			}
			return
		}
		// Whatever parses must survive a write/read round trip (fields
		// containing CR are normalised by encoding/csv, so skip those).
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		_ = w.Write(GroundTruthHeader)
		rec := make([]string, len(GroundTruthHeader))
		for _, e := range rows {
			e.record(rec)
			if strings.ContainsRune(strings.Join(rec, ""), '\r') {
				return
			}
			_ = w.Write(rec)
		}
		w.Flush()
		again, err := ReadGroundTruth(&b)
		if err != nil {
			t.Fatalf("re-reading written rows: %v", err)
		}
		if !slices.Equal(rows, again) {
			t.Fatalf("round trip changed rows:\n%+v\n%+v", rows, again)
		}
	})
}
