package deploy

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/internal/config"
)

// The units, and the instance the tests start the template as.
const (
	masterUnit    = "crawlmaster-master.service"
	assistantUnit = "crawlmaster-assistant@.service"
	testInstance  = "50052"
)

// unit is a parsed unit file: section -> key -> values in order (a key
// may be given several times).
type unit map[string]map[string][]string

func (u unit) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func readUnit(t *testing.T, name string) unit {
	t.Helper()
	f, err := os.Open(deployFile(t, filepath.Join("systemd", name)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		case strings.HasSuffix(line, `\`):
			t.Fatalf("%s:%d: continuation lines are not supported by this test's parser", name, n)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", name, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// unitRoot builds a scratch file system root for systemd-analyze --root:
// the units in /etc/systemd/system, the system's own units (the targets
// ours depend on), and an executable at every path an Exec line names.
func unitRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	sysUnits := ""
	for _, d := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			sysUnits = d
			break
		}
	}
	if sysUnits == "" {
		t.Fatal("no /usr/lib/systemd/system: systemd's units (sysinit.target, multi-user.target, ...) are needed to verify ours")
	}
	dst := filepath.Join(root, "usr/lib/systemd/system")
	err := filepath.WalkDir(sysUnits, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(sysUnits, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("copy %s: %v", sysUnits, err)
	}
	etc := filepath.Join(root, "etc/systemd/system")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{masterUnit, assistantUnit} {
		b, err := os.ReadFile(deployFile(t, filepath.Join("systemd", name)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		u := readUnit(t, name)
		for key, values := range u["Service"] {
			if !strings.HasPrefix(key, "Exec") {
				continue
			}
			for _, v := range values {
				exe := strings.TrimLeft(strings.Fields(v)[0], "-@:+!")
				stub := filepath.Join(root, exe)
				if err := os.MkdirAll(filepath.Dir(stub), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(stub, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return root
}

// TestSystemdUnitsVerify runs systemd-analyze verify on the units (the
// template as an instance) and their security review, in a scratch root.
// verify exits 0 after some mistakes (an unknown key, a bad value: it
// says "ignoring"), so any output at all fails the test.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze := tool(t, "systemd-analyze")
	root := unitRoot(t)
	instance := strings.Replace(assistantUnit, "@.", "@"+testInstance+".", 1)
	verify := func(units ...string) (string, error) {
		args := append([]string{"verify", "--man=no", "--generators=no", "--root=" + root}, units...)
		return runTool(t, root, analyze, args...)
	}

	out, err := verify(masterUnit, instance)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify %s %s: %v\n%s", masterUnit, instance, err, out)
	}

	// The check must be able to fail: a misspelt key is reported.
	b, err := os.ReadFile(filepath.Join(root, "etc/systemd/system", masterUnit))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(b), "ProtectSystem=strict", "ProtectSytem=strict", 1)
	if err := os.WriteFile(filepath.Join(root, "etc/systemd/system/crawlmaster-broken.service"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := verify("crawlmaster-broken.service"); err == nil && !strings.Contains(out, "ProtectSytem") {
		t.Errorf("systemd-analyze verify does not report a misspelt key, so this test could not see one:\n%s", out)
	}

	// The exposure score of systemd-analyze security (0 best, 10 worst;
	// the units score about 1.5) must stay "OK" or better.
	const threshold = 25 // tenths: 2.5
	for _, u := range []string{masterUnit, instance} {
		out, err := runTool(t, root, analyze, "security", "--offline=yes", "--root="+root,
			"--threshold="+strconv.Itoa(threshold), "--no-pager", u)
		overall := ""
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "Overall exposure level") {
				overall = strings.TrimSpace(line)
			}
		}
		if err != nil || overall == "" {
			t.Errorf("systemd-analyze security %s: exposure over %.1f (or no verdict): %v\n%s", u, threshold/10.0, err, out)
			continue
		}
		t.Log(overall)
	}
}

// TestSystemdUnitSettings checks what the units promise: hardening, the
// dedicated user, restarts, and limits that fit the daemons' defaults.
func TestSystemdUnitSettings(t *testing.T) {
	defaults := config.Default()
	for _, c := range []struct {
		name string
		// stopNeeds is the longest a clean stop may take with the default
		// configuration; TimeoutStopSec must exceed it.
		stopNeeds time.Duration
		why       string
	}{
		// master.Run: drain within dispatch.shutdown_grace, flush, release
		// leases (up to 10 s), clear the heartbeat (up to 5 s).
		{masterUnit, defaults.Dispatch.ShutdownGrace + 15*time.Second, "dispatch.shutdown_grace + 10s lease release + 5s heartbeat"},
		// assistant.Run: drain within fetch.shutdown_grace, then gRPC
		// GracefulStop forced after 5 s.
		{assistantUnit, defaults.Fetch.ShutdownGrace + 5*time.Second, "fetch.shutdown_grace + 5s gRPC stop"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := readUnit(t, c.name)
			want := map[string]string{
				"Type":                  "exec",
				"User":                  "crawlmaster",
				"Group":                 "crawlmaster",
				"NoNewPrivileges":       "yes",
				"ProtectSystem":         "strict",
				"ProtectHome":           "yes",
				"PrivateTmp":            "yes",
				"Restart":               "on-failure",
				"KillSignal":            "SIGTERM",
				"ExecReload":            "/bin/kill -HUP $MAINPID",
				"CapabilityBoundingSet": "",
			}
			for k, v := range want {
				if _, ok := u["Service"][k]; !ok {
					t.Errorf("[Service] %s is missing (want %q)", k, v)
				} else if got := u.get("Service", k); got != v {
					t.Errorf("[Service] %s=%s, want %q", k, got, v)
				}
			}
			// Neither daemon writes files (logs go to the journal); a path
			// made writable must come with a reason, and a change here.
			if rw := u["Service"]["ReadWritePaths"]; len(rw) > 0 {
				t.Errorf("ReadWritePaths=%v: the daemons write no files; if that changed, say why in the unit and here", rw)
			}
			if got := u.get("Install", "WantedBy"); got != "multi-user.target" {
				t.Errorf("[Install] WantedBy=%q, want multi-user.target", got)
			}
			exec := u.get("Service", "ExecStart")
			if !strings.Contains(exec, " run --config /etc/crawlmaster/rpc.yaml") {
				t.Errorf("ExecStart=%s does not run the daemon with /etc/crawlmaster/rpc.yaml", exec)
			}
			stop, err := time.ParseDuration(u.get("Service", "TimeoutStopSec"))
			if err != nil {
				t.Fatalf("TimeoutStopSec=%q: %v", u.get("Service", "TimeoutStopSec"), err)
			}
			if stop <= c.stopNeeds {
				t.Errorf("TimeoutStopSec=%s, but a clean stop may take %s (%s): systemd would SIGKILL a draining daemon",
					stop, c.stopNeeds, c.why)
			}
			nofile, err := strconv.Atoi(u.get("Service", "LimitNOFILE"))
			if err != nil {
				t.Fatalf("LimitNOFILE=%q: %v", u.get("Service", "LimitNOFILE"), err)
			}
			if nofile < 4096 {
				t.Errorf("LimitNOFILE=%d, want at least 4096", nofile)
			}
		})
	}

	// The template: one instance per gRPC port, and LimitNOFILE as its
	// comment sizes it (4 descriptors per slot plus 1024 of headroom, for
	// the number of slots the comment names).
	u := readUnit(t, assistantUnit)
	if exec := u.get("Service", "ExecStart"); !strings.Contains(exec, "--listen ${CRAWLMASTER_LISTEN_HOST}:%i") {
		t.Errorf("ExecStart=%s: want --listen ${CRAWLMASTER_LISTEN_HOST}:%%i (the instance is the gRPC port)", exec)
	}
	src, err := os.ReadFile(deployFile(t, filepath.Join("systemd", assistantUnit)))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(\d+) covers up to (\d+) slots per instance`).FindStringSubmatch(string(src))
	if m == nil {
		t.Fatalf("%s: no comment saying how many slots LimitNOFILE covers", assistantUnit)
	}
	nofile, _ := strconv.Atoi(u.get("Service", "LimitNOFILE"))
	commented, _ := strconv.Atoi(m[1])
	slots, _ := strconv.Atoi(m[2])
	if commented != nofile || nofile < 4*slots+1024 {
		t.Errorf("LimitNOFILE=%d, its comment says %d covers %d slots, which need 4*%d+1024 = %d", nofile, commented, slots, slots, 4*slots+1024)
	}
}

// TestSysusers creates the units' user from crawlmaster.sysusers.conf in a
// scratch root with systemd-sysusers.
func TestSysusers(t *testing.T) {
	sysusers := tool(t, "systemd-sysusers")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := deployFile(t, "systemd/crawlmaster.sysusers.conf")
	if out, err := runTool(t, root, sysusers, "--root="+root, conf); err != nil {
		t.Fatalf("systemd-sysusers --root=%s %s: %v\n%s", root, conf, err, out)
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	group, err := os.ReadFile(filepath.Join(root, "etc/group"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{masterUnit, assistantUnit} {
		u := readUnit(t, name)
		user, grp := u.get("Service", "User"), u.get("Service", "Group")
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(user) + `:x:\d+:\d+:[^:]*:[^:]*:/usr/sbin/nologin$`).Match(passwd) {
			t.Errorf("%s runs as %s, which the sysusers file does not create as a no-login system user:\n%s", name, user, passwd)
		}
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(grp) + `:x:\d+:`).Match(group) {
			t.Errorf("%s runs as group %s, which the sysusers file does not create:\n%s", name, grp, group)
		}
	}
}

// TestUnitCommandLines runs the real master and assistant with the
// command line of each unit's ExecStart= (the instance and environment
// expanded as systemd would, the binary path pointed at a fresh build)
// plus -h: a flag the daemon does not know makes it exit 2. The flags the
// unit comments suggest for the environment files are tried too.
func TestUnitCommandLines(t *testing.T) {
	skipInShort(t, "unit command lines")
	for _, c := range []struct {
		unit, bin string
		env       map[string]string
	}{
		{masterUnit, "master", map[string]string{"CRAWLMASTER_MASTER_ARGS": ""}},
		{masterUnit, "master", map[string]string{"CRAWLMASTER_MASTER_ARGS": "--tls-ca /x/ca.crt --tls-cert /x/m.crt --tls-key /x/m.key"}},
		{assistantUnit, "assistant", map[string]string{"CRAWLMASTER_ASSISTANT_ARGS": ""}},
		{assistantUnit, "assistant", map[string]string{"CRAWLMASTER_LISTEN_HOST": "10.0.0.3",
			"CRAWLMASTER_ASSISTANT_ARGS": "--tls-ca /x/ca.crt --tls-cert /x/a.crt --tls-key /x/a.key"}},
	} {
		u := readUnit(t, c.unit)
		env := map[string]string{}
		for _, e := range u["Service"]["Environment"] {
			k, v, _ := strings.Cut(e, "=")
			env[k] = v
		}
		for k, v := range c.env {
			env[k] = v
		}
		argv, err := expandExec(u.get("Service", "ExecStart"), testInstance, env)
		if err != nil {
			t.Fatalf("%s: %v", c.unit, err)
		}
		if filepath.Base(argv[0]) != c.bin {
			t.Fatalf("%s: ExecStart runs %s, want a binary named %s", c.unit, argv[0], c.bin)
		}
		cmd := exec.Command(daemonBin(t, c.bin), append(argv[1:], "-h")...)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "-config") {
			t.Errorf("%s: %s %s -h: %v\n%s", c.unit, c.bin, strings.Join(argv[1:], " "), err, out)
		}
	}
}

// expandExec expands an ExecStart= value as systemd does for the
// specifiers and variables the units use: %i, ${VAR} inside a word, and
// $VAR as a word of its own, split at whitespace (empty: no word).
func expandExec(line, instance string, env map[string]string) ([]string, error) {
	var argv []string
	for _, w := range strings.Fields(line) {
		w = strings.ReplaceAll(w, "%i", instance)
		if strings.Contains(w, "%") {
			return nil, fmt.Errorf("specifier in %q not handled by this test", w)
		}
		if strings.HasPrefix(w, "$") && !strings.HasPrefix(w, "${") {
			v, ok := env[w[1:]]
			if !ok {
				return nil, fmt.Errorf("variable %s has no value in the test", w)
			}
			argv = append(argv, strings.Fields(v)...)
			continue
		}
		var missing error
		w = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).ReplaceAllStringFunc(w, func(m string) string {
			v, ok := env[m[2:len(m)-1]]
			if !ok {
				missing = fmt.Errorf("variable %s has no value (no Environment= default)", m)
			}
			return v
		})
		if missing != nil {
			return nil, missing
		}
		argv = append(argv, w)
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("empty ExecStart")
	}
	return argv, nil
}
