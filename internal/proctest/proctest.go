package proctest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binaries builds a set of commands once, on first use, into a temporary
// directory. Its zero value is not usable: see [NewBinaries].
type Binaries struct {
	pkgs []string

	once sync.Once
	dir  string
	err  error
}

// NewBinaries returns the commands of the package directories pkgs (such
// as "../../cmd/master"), built when [Binaries.Path] is first called, so
// a -short run that starts no process builds nothing.
func NewBinaries(pkgs ...string) *Binaries { return &Binaries{pkgs: pkgs} }

// Path returns the path of the built command name ("master"), failing t
// if the build failed.
func (b *Binaries) Path(t testing.TB, name string) string {
	t.Helper()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "crawlmaster-test-bin")
		if err != nil {
			b.err = err
			return
		}
		b.dir = dir
		args := append([]string{"build", "-o", dir + "/"}, b.pkgs...)
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build %v: %v\n%s", b.pkgs, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return filepath.Join(b.dir, name)
}

// Remove deletes the built commands (from TestMain, after the tests).
func (b *Binaries) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// Proc is a process started by [Start].
type Proc struct {
	Name string
	Cmd  *exec.Cmd

	out    lockedWriter
	exited chan struct{} // closed once Wait returned
	err    error         // Wait's result, once exited is closed
}

// Start starts path with args and env added to the test's environment.
// The process is killed at the end of the test if it still runs; if the
// test failed, the last lines of its output are logged.
func Start(t testing.TB, name, path string, env []string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &Proc{Name: name, Cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if _, done := p.Exited(); !done {
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("--- %s %v, last lines of output:\n%s", name, args, LastLines(p.Output(), 20))
		}
	})
	return p
}

// Output returns everything the process wrote so far, stdout and stderr.
func (p *Proc) Output() string { return p.out.String() }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.exited }

// Exited returns the process's exit error and true once it has exited.
func (p *Proc) Exited() (error, bool) {
	select {
	case <-p.exited:
		return p.err, true
	default:
		return nil, false
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits up to within for a clean exit (status 0);
// anything else fails t.
func (p *Proc) Stop(t testing.TB, within time.Duration) {
	t.Helper()
	if _, done := p.Exited(); done {
		t.Errorf("%s had exited before SIGTERM: %v", p.Name, p.err)
		return
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("%s: SIGTERM: %v", p.Name, err)
		return
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.Name, p.err)
		}
	case <-time.After(within):
		t.Errorf("%s did not exit within %s of SIGTERM", p.Name, within)
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill(t testing.TB) {
	t.Helper()
	if _, done := p.Exited(); done {
		return
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("%s: SIGKILL: %v", p.Name, err)
	}
	<-p.exited
}

// lockedWriter collects a process's output; exec copies stdout and
// stderr from two goroutines.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(b)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// LastLines returns the last n lines of s.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
