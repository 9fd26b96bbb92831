package master

import (
	"net"
	"os"
	"sync"
)

// leadership says whether this master leads now, for the API: the term
// sets it when it starts leading and clears it when it ends. Each change
// closes the channel handed out with the previous state, so a stream or
// the health service waits for the next change without polling. The zero
// value is a master that does not lead.
type leadership struct {
	mu      sync.Mutex
	leading bool
	changed chan struct{}
}

// set records whether the master leads.
func (l *leadership) set(leading bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leading == leading {
		return
	}
	l.leading = leading
	if l.changed != nil {
		close(l.changed)
	}
	l.changed = make(chan struct{})
}

// get returns whether the master leads, and a channel closed at the next
// change.
func (l *leadership) get() (bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.leading, l.changed
}

// advertised is the address a master publishes for its API: the one its
// listener is bound to, a wildcard address (0.0.0.0, ::) replaced by the
// host name.
func advertised(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}
