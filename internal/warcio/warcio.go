// Package warcio reads WARC files in tests with an independent reader:
// warcio.js, webrecorder's WARC library (the npm package warcio, the one
// behind ReplayWeb.page), run by Node.
//
// The first Read of a process installs the pinned warcio (Version) with
// `npm ci` from the embedded package.json and package-lock.json into a
// cache directory, $XDG_CACHE_HOME/crawlmaster/warcio-<Version> (or
// ~/.cache/...; CRAWLMASTER_WARCIO_DIR overrides it), once per machine.
// When node or npm is missing it installs Debian's nodejs and npm with
// apt-get when running as root, and otherwise fails the test saying what
// to install. Nothing here skips a test: a reader that cannot be had is a
// failure.
package warcio

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the warcio.js version the tests read with (pinned, with its
// dependencies, by package-lock.json).
const Version = "2.4.11"

// EnvDir names the environment variable that overrides the install
// directory.
const EnvDir = "CRAWLMASTER_WARCIO_DIR"

// minNodeMajor is warcio 2.x's engines.node (>=18).
const minNodeMajor = 18

var (
	//go:embed read.mjs
	readScript []byte
	//go:embed package.json
	packageJSON []byte
	//go:embed package-lock.json
	packageLock []byte
)

// Rec is one WARC record as warcio.js read it.
type Rec struct {
	File   string `json:"file"`
	Index  int    `json:"index"`  // the record's position in its file, from 0
	Offset int64  `json:"offset"` // where the record starts in the file (its gzip member's start)

	Type              string   `json:"type"` // WARC-Type
	TargetURI         string   `json:"target_uri"`
	RecordID          string   `json:"record_id"`
	Date              string   `json:"date"`
	ContentType       string   `json:"content_type"`
	ContentLength     int64    `json:"content_length"` // the Content-Length header
	PayloadDigest     string   `json:"payload_digest"` // the WARC-Payload-Digest header
	BlockDigest       string   `json:"block_digest"`   // the WARC-Block-Digest header
	Truncated         string   `json:"truncated"`      // the WARC-Truncated header
	Profile           string   `json:"profile"`
	RefersToTargetURI string   `json:"refers_to_target_uri"`
	RefersToDate      string   `json:"refers_to_date"`
	ConcurrentTo      []string `json:"concurrent_to"`
	WarcinfoID        string   `json:"warcinfo_id"`
	Filename          string   `json:"filename"` // WARC-Filename (warcinfo)

	// HasHTTP says warcio parsed HTTP headers from the block (response,
	// request, revisit with a block); HTTPStatus is their status code (0
	// for a request or no HTTP headers).
	HasHTTP    bool `json:"has_http"`
	HTTPStatus int  `json:"http_status"`
	// The payload as warcio's readFully() returns it: the block after the
	// HTTP headers, raw (neither dechunked nor decoded); the whole block
	// when warcio parsed no HTTP headers.
	PayloadLength int64  `json:"payload_length"`
	PayloadSHA256 string `json:"payload_sha256"` // hex
	// The whole block as read with HTTP parsing off.
	BlockLength int64  `json:"block_length"`
	BlockSHA256 string `json:"block_sha256"` // hex
	// Text is a warcinfo record's block as text ("" for other types).
	Text string `json:"text"`
}

// Read reads every record of files, in order, with warcio.js; on any
// failure (no node, npm install failed, a file warcio cannot read) it
// fails the test.
func Read(t testing.TB, files ...string) []Rec {
	t.Helper()
	recs, err := Load(files...)
	if err != nil {
		t.Fatalf("warcio: %v", err)
	}
	return recs
}

// Load is Read returning its error.
func Load(files ...string) ([]Rec, error) {
	dir, err := Install()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "warcio-read-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	script := filepath.Join(tmp, "read.mjs")
	if err := os.WriteFile(script, readScript, 0o600); err != nil {
		return nil, err
	}
	abs := make([]string, len(files))
	for i, f := range files {
		if abs[i], err = filepath.Abs(f); err != nil {
			return nil, err
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodePath, append([]string{script, dir}, abs...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("warcio.js failed reading %s: %v\n%s", strings.Join(files, " "), err, tail(stderr.String()))
	}
	return parseOutput(stdout.Bytes(), files, abs)
}

func parseOutput(out []byte, files, abs []string) ([]Rec, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	if !sc.Scan() {
		return nil, errors.New("warcio.js printed nothing")
	}
	var hello struct {
		Warcio string `json:"warcio_version"`
	}
	if err := json.Unmarshal(sc.Bytes(), &hello); err != nil || hello.Warcio != Version {
		return nil, fmt.Errorf("warcio.js: want version %s, first line %q", Version, sc.Text())
	}
	name := make(map[string]string, len(abs))
	for i := range abs {
		name[abs[i]] = files[i]
	}
	var recs []Rec
	for sc.Scan() {
		var r Rec
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("warcio.js output %q: %w", sc.Text(), err)
		}
		if f, ok := name[r.File]; ok {
			r.File = f // as the caller named it
		}
		for i, id := range r.ConcurrentTo {
			r.ConcurrentTo[i] = strings.TrimSpace(id)
		}
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

var (
	installOnce sync.Once
	installDir  string
	installErr  error
	nodePath    string
)

// Install makes sure node and the pinned warcio are installed and returns
// the directory warcio is installed in (its node_modules' parent).
func Install() (string, error) {
	installOnce.Do(func() { installDir, installErr = install() })
	return installDir, installErr
}

func install() (string, error) {
	node, err := ensureTool("node")
	if err != nil {
		return "", err
	}
	nodePath = node
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %v", node, err)
	}
	v := strings.TrimSpace(string(out))
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(v, "v"), ".", 2)[0])
	if major < minNodeMajor {
		return "", fmt.Errorf("node %s at %s is too old: warcio %s needs node >= %d", v, node, Version, minNodeMajor)
	}

	dir, err := cacheDir()
	if err != nil {
		return "", err
	}
	if installed(dir) {
		return dir, nil
	}
	npm, err := ensureTool("npm")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	// Install beside dir and rename into place: a concurrent test binary
	// (go test runs packages in parallel) either wins the rename or finds
	// dir complete; nobody sees a half-installed one.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for name, data := range map[string][]byte{"package.json": packageJSON, "package-lock.json": packageLock} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--prefix", tmp,
		"--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("installing warcio %s (npm ci --prefix %s) failed: %v\n%s", Version, tmp, err, tail(string(out)))
	}
	if !installed(tmp) {
		return "", fmt.Errorf("npm ci --prefix %s succeeded but node_modules/warcio is not version %s", tmp, Version)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if installed(dir) {
			return dir, nil // another process installed it meanwhile
		}
		// A broken leftover (an interrupted run before the rename scheme,
		// a hand edit): replace it.
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			return "", fmt.Errorf("replacing %s: %v", dir, rmErr)
		}
		if err := os.Rename(tmp, dir); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// installed reports whether dir holds the pinned warcio.
func installed(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "node_modules", "warcio", "package.json"))
	if err != nil {
		return false
	}
	var pkg struct {
		Version string `json:"version"`
	}
	return json.Unmarshal(data, &pkg) == nil && pkg.Version == Version
}

func cacheDir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return filepath.Abs(d)
	}
	base, err := os.UserCacheDir() // $XDG_CACHE_HOME, else ~/.cache
	if err != nil {
		return "", fmt.Errorf("no cache directory for warcio (set %s): %v", EnvDir, err)
	}
	return filepath.Join(base, "crawlmaster", "warcio-"+Version), nil
}

// ensureTool returns the path of node or npm, installing Debian's nodejs
// and npm with apt-get when it is missing and this process is root.
func ensureTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%s not found in PATH: install Node.js >= %d and npm (Debian: apt-get install -y nodejs npm) to run the WARC reader tests", name, minNodeMajor)
	}
	if err := aptInstall("nodejs", "npm"); err != nil {
		return "", fmt.Errorf("%s not found in PATH and apt-get install nodejs npm failed: %v", name, err)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s still not found in PATH after apt-get install nodejs npm", name)
	}
	return p, nil
}

var aptMu sync.Mutex

func aptInstall(pkgs ...string) error {
	aptMu.Lock()
	defer aptMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s", strings.Join(args, " "), err, tail(string(out)))
		}
		return nil
	}
	install := append([]string{"install", "-y", "-q"}, pkgs...)
	if err := run(install...); err == nil {
		return nil
	}
	// The package lists may be missing or stale on a fresh machine.
	if err := run("update", "-q"); err != nil {
		return err
	}
	return run(install...)
}

func tail(s string) string {
	const max = 4000
	if len(s) > max {
		return "..." + s[len(s)-max:]
	}
	return s
}
