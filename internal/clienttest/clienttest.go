// Package clienttest finds and runs the real clients that the gateway's
// tests talk to: dsmr_parser (the library inside Home Assistant's DSMR
// integration), a Node.js DSMR parser from the npm registry, socat, a
// Prometheus server, promtool and headless Chromium.
//
// A test that needs a program the machine lacks is skipped with a message
// saying how to install it, unless the environment variable RequireEnv is
// set (.ci/run sets it, after installing them all): then it fails. The
// dsmr_parser kit lives outside the repository, in
// ../shared/tools/dsmr-client beside the clone (or where DSMRClientEnv
// says); RequireDSMRClientEnv makes its absence a failure.
package clienttest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables that steer the package.
const (
	// RequireEnv, when set, turns a missing program into a failed test.
	RequireEnv = "SMARTY_REQUIRE_PROGRAMS"
	// DSMRClientEnv names the directory of the dsmr_parser kit (the one
	// holding read-dsmr-tcp).
	DSMRClientEnv = "SMARTY_DSMR_CLIENT"
	// RequireDSMRClientEnv, when set, turns a missing dsmr_parser kit
	// into a failed test.
	RequireDSMRClientEnv = "SMARTY_REQUIRE_DSMR_CLIENT"
	// NodeModulesEnv names a directory whose node_modules holds the npm
	// package dsmr-parser; without it the package is installed with npm
	// into the user's cache directory the first time.
	NodeModulesEnv = "SMARTY_NODE_MODULES"
)

// NodeDSMRParser is the npm package (and version) of the Node.js client.
const NodeDSMRParser = "dsmr-parser@2.1.1"

// missing skips or fails t for a program that is not there.
func missing(t testing.TB, env, what, how string) {
	t.Helper()
	if os.Getenv(env) != "" {
		t.Fatalf("%s is missing, and %s is set: %s", what, env, how)
	}
	t.Skipf("%s is missing (%s); skipping", what, how)
}

// Program returns the path of the program name, looked up in PATH and in
// /usr/sbin and /usr/bin. When it is not found the test is skipped, or
// fails under RequireEnv; pkg is the Debian package that has it.
func Program(t testing.TB, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	missing(t, RequireEnv, name, "apt-get install "+pkg)
	return ""
}

// DSMRClient returns the path of read-dsmr-tcp, the dsmr_parser test
// client: in DSMRClientEnv's directory when it is set, else in
// shared/tools/dsmr-client in the repository's parent directory or one
// above it.
func DSMRClient(t testing.TB) string {
	t.Helper()
	var dirs []string
	if d := os.Getenv(DSMRClientEnv); d != "" {
		dirs = append(dirs, d)
	} else if root, err := repoRoot(); err == nil {
		for d := filepath.Dir(root); ; d = filepath.Dir(d) {
			dirs = append(dirs, filepath.Join(d, "shared", "tools", "dsmr-client"))
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "read-dsmr-tcp")
		if _, err := os.Stat(p); err == nil {
			if out, err := exec.Command(filepath.Join(d, "install-deps"), "--check").CombinedOutput(); err != nil {
				missing(t, RequireDSMRClientEnv, "the dsmr_parser kit's Debian packages", fmt.Sprintf("run %s/install-deps as root (%s)", d, strings.TrimSpace(string(out))))
			}
			return p
		}
	}
	missing(t, RequireDSMRClientEnv, "the dsmr_parser kit (read-dsmr-tcp)", "put it in ../shared/tools/dsmr-client beside the repository, or set "+DSMRClientEnv)
	return ""
}

// repoRoot returns the directory of go.mod above the working directory.
func repoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", os.ErrNotExist
		}
		d = filepath.Dir(d)
	}
}

var npmMu sync.Mutex

// NodeModules returns a directory for NODE_PATH that holds the npm
// package NodeDSMRParser, and the path of node. The directory is
// NodeModulesEnv's node_modules when it is set; else the package is
// installed with npm, once, into the user's cache directory.
func NodeModules(t testing.TB) (nodePath, node string) {
	t.Helper()
	node = Program(t, "node", "nodejs")
	if d := os.Getenv(NodeModulesEnv); d != "" {
		nm := filepath.Join(d, "node_modules")
		if _, err := os.Stat(filepath.Join(nm, "dsmr-parser", "index.js")); err != nil {
			t.Fatalf("%s=%s holds no node_modules/dsmr-parser: npm install --prefix %s %s", NodeModulesEnv, d, d, NodeDSMRParser)
		}
		return nm, node
	}
	npm := Program(t, "npm", "npm")
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "go-smarty-reader", "node-"+strings.ReplaceAll(NodeDSMRParser, "@", "-"))
	nm := filepath.Join(dir, "node_modules")
	npmMu.Lock()
	defer npmMu.Unlock()
	if _, err := os.Stat(filepath.Join(nm, "dsmr-parser", "index.js")); err == nil {
		return nm, node
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", dir, NodeDSMRParser)
	if out, err := cmd.CombinedOutput(); err != nil {
		missing(t, RequireEnv, "the npm package "+NodeDSMRParser, fmt.Sprintf("npm install failed: %v: %s", err, out))
	}
	return nm, node
}

// Process is a program started for a test. It is killed when the test
// ends, if it has not ended by then.
type Process struct {
	Cmd            *exec.Cmd
	Stdout, Stderr bytes.Buffer // what it wrote (read them after Wait)
	done           chan struct{}
	err            error
}

// Start starts cmd, with its output kept in the Process. The process is
// put in a group of its own, which is killed when the test ends.
func Start(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.Stdout, &p.Stderr
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			killGroup(cmd)
			<-p.done
		}
	})
	return p
}

// Wait waits for the process to end, at most d; after that it kills it
// and fails the test.
func (p *Process) Wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		killGroup(p.Cmd)
		<-p.done
		t.Fatalf("%s did not end within %s; stdout:\n%s\nstderr:\n%s", p.Cmd.Path, d, p.Stdout.Bytes(), p.Stderr.Bytes())
		return nil
	}
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Eventually calls cond every few milliseconds until it returns true, or
// fails the test after d with what describes what was awaited.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for wait := time.Millisecond; !cond(); wait = min(2*wait, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(wait)
	}
}
