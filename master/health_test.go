package master_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/master"
	"github.com/crawlmaster/crawlmaster/master/store"
)

// probe GETs path on a master's admin endpoint.
func probe(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// waitProbe polls path until it answers code with a body containing want.
func waitProbe(t *testing.T, addr, path string, code int, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, body := probe(t, addr, path)
		if c == code && strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %q; want %d containing %q within %s", path, c, body, code, want, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitMasters polls `master status`'s list of masters until ok accepts it.
func waitMasters(t *testing.T, st *store.Store, what string, ok func([]store.MasterBeat) bool) []store.MasterBeat {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, err := master.ReadReport(t.Context(), st)
		if err != nil {
			t.Fatal(err)
		}
		if ok(r.Masters) {
			return r.Masters
		}
		if time.Now().After(deadline) {
			t.Fatalf("masters %+v: not %s within 15s", r.Masters, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// roles maps each listed master to its role.
func roles(ms []store.MasterBeat) map[string]store.MasterRole {
	out := map[string]store.MasterRole{}
	for _, m := range ms {
		out[m.ID] = m.Role
	}
	return out
}

// A leader and a standby are both ready and say which they are; status
// lists both; a leader that stops cleanly is gone from status at once
// (not shown leading until its heartbeat ages).
func TestReadyAndStatusOfLeaderAndStandby(t *testing.T) {
	c := newCluster(t, 50, 1, 4)
	a := c.runMaster(t)
	a.wait(t, a.led, "master a leading", 30*time.Second)
	b := c.runMaster(t)
	b.wait(t, b.standby, "master b standing by", 30*time.Second)

	waitProbe(t, a.admin, "/readyz", 200, "leader", 5*time.Second)
	waitProbe(t, b.admin, "/readyz", 200, "standby", 5*time.Second)
	for _, rm := range []*runningMaster{a, b} {
		if code, body := probe(t, rm.admin, "/healthz"); code != 200 {
			t.Errorf("/healthz: %d %q, want 200", code, body)
		}
	}
	aID := a.id.Load().(string)
	waitMasters(t, c.store, "a leader and a standby", func(ms []store.MasterBeat) bool {
		r := roles(ms)
		return len(ms) == 2 && r[aID] == store.RoleLeader && ms[0].ID == aID && ms[1].Role == store.RoleStandby
	})

	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	// At once: no status row and no heartbeat of a remain.
	r, err := master.ReadReport(t.Context(), c.store)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := roles(r.Masters)[aID]; ok || (r.Master != nil && r.Master.MasterID == aID) {
		t.Fatalf("status right after a clean stop still lists master %s: masters %+v, leader status %+v", aID, r.Masters, r.Master)
	}
	var out strings.Builder
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), aID) {
		t.Errorf("status output names the stopped master:\n%s", out.String())
	}
	b.wait(t, b.led, "standby leading", 10*time.Second)
	waitProbe(t, b.admin, "/readyz", 200, "leader", 5*time.Second)
	waitMasters(t, c.store, "b alone, leading", func(ms []store.MasterBeat) bool {
		return len(ms) == 1 && ms[0].Role == store.RoleLeader
	})
}

// While the database is unreachable the master is alive (/healthz 200)
// but not ready (/readyz 503, saying why); it is ready again when the
// database is back, and finishes the crawl.
func TestReadyDuringDatabaseOutage(t *testing.T) {
	c := newCluster(t, 50, 1, 4)
	u, err := url.Parse(c.cfg.Database.URL)
	if err != nil {
		t.Fatal(err)
	}
	px := newCutProxy(t, u.Host)
	cfg := *c.cfg
	u.Host = px.addr()
	cfg.Database.URL = u.String()
	m := runMasterConfig(t, &cfg)
	m.wait(t, m.led, "leading", 30*time.Second)
	waitProbe(t, m.admin, "/readyz", 200, "leader", 5*time.Second)

	px.cut(true)
	waitProbe(t, m.admin, "/readyz", 503, "database unreachable", 10*time.Second)
	if code, body := probe(t, m.admin, "/healthz"); code != 200 {
		t.Errorf("/healthz during the outage: %d %q, want 200 (the process is alive)", code, body)
	}
	px.cut(false)
	waitProbe(t, m.admin, "/readyz", 200, "", 30*time.Second)
	c.waitFinal(2 * time.Minute)
}

// cutProxy forwards TCP connections to a backend until cut, when it
// drops every connection and hangs up on new ones.
type cutProxy struct {
	t       *testing.T
	ln      net.Listener
	backend string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newCutProxy(t *testing.T, backend string) *cutProxy {
	ln, _ := listen(t)
	p := &cutProxy{t: t, ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut(true)
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

// track registers c unless the proxy is down.
func (p *cutProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(context.Background(), "tcp", p.backend)
		if err != nil {
			in.Close()
			continue
		}
		if !p.track(in, out) {
			in.Close()
			out.Close()
			continue
		}
		p.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(in, out)
		go pipe(out, in)
	}
}
