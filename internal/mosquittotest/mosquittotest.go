// Package mosquittotest runs a real Mosquitto broker for tests.
//
// Start finds the mosquitto binary (the Debian package "mosquitto" puts it
// in /usr/sbin), writes a configuration into a temporary directory and runs
// the broker on a free loopback port. The broker can be stopped and started
// again on the same port, with its persistence file, so that tests can show
// what a client does while the broker is away. It is stopped when the test
// ends.
//
// When mosquitto is not installed the test is skipped with a message saying
// how to install it, unless the environment variable
// SMARTY_REQUIRE_MOSQUITTO is set (CI sets it): then a missing broker fails
// the test.
package mosquittotest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing mosquitto
// binary from a skipped test into a failed one.
const RequireEnv = "SMARTY_REQUIRE_MOSQUITTO"

// Config says how to run the broker. The zero value is an anonymous,
// plain-TCP broker with persistence.
type Config struct {
	// Users, when not nil, turns anonymous access off and allows only
	// these user names with these passwords.
	Users map[string]string
	// TLS makes the listener speak TLS with a certificate for 127.0.0.1
	// and localhost, signed by a certificate authority made for the test
	// (Broker.CAFile).
	TLS bool
	// RequireClientCert, with TLS, makes the broker demand a client
	// certificate signed by the same authority (Broker.ClientCertFile and
	// Broker.ClientKeyFile).
	RequireClientCert bool
	// Extra is appended to the generated mosquitto.conf.
	Extra string
}

// Broker is a running (or stopped) mosquitto process.
type Broker struct {
	// Addr is the listener's host:port on the loopback interface.
	Addr string
	// Dir is the broker's private directory: configuration, persistence
	// file, log, certificates.
	Dir string
	// CAFile is the PEM file of the authority that signed the broker's
	// certificate and the client certificate ("" without TLS).
	CAFile string
	// ClientCertFile and ClientKeyFile hold a client certificate signed
	// by CAFile's authority ("" without TLS).
	ClientCertFile, ClientKeyFile string

	t       testing.TB
	bin     string
	conf    string
	logFile string
	tls     bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Binary returns the path of the mosquitto executable, or "" when it is not
// installed. The environment variable MOSQUITTO overrides the search.
func Binary() string {
	if p := os.Getenv("MOSQUITTO"); p != "" {
		return p
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// Start starts a broker for the test t, or skips t when mosquitto is not
// installed (see the package comment). The broker is stopped when t ends.
func Start(t testing.TB, cfg Config) *Broker {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "mosquitto is not installed: install it (Debian/Ubuntu: apt-get install mosquitto) to run this test"
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%s (%s is set, so a missing broker is an error)", msg, RequireEnv)
		}
		t.Skipf("%s, or set %s=1 to make a missing broker fail", msg, RequireEnv)
	}
	b := &Broker{t: t, bin: bin, Dir: t.TempDir(), tls: cfg.TLS}
	b.logFile = filepath.Join(b.Dir, "mosquitto.log")
	b.Addr = freePort(t)
	if err := b.writeConfig(cfg); err != nil {
		t.Fatalf("mosquittotest: %v", err)
	}
	t.Cleanup(b.Stop)
	b.Start()
	return b
}

// URL returns the broker's address as an MQTT URL: tcp://127.0.0.1:port,
// or ssl://127.0.0.1:port with TLS.
func (b *Broker) URL() string {
	if b.tls {
		return "ssl://" + b.Addr
	}
	return "tcp://" + b.Addr
}

// Start starts the broker again after Stop, on the same port and with the
// same persistence file. It waits until the broker accepts connections and
// fails the test if it does not. Starting a running broker does nothing.
func (b *Broker) Start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return
	}
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Dir = b.Dir
	out, err := os.OpenFile(b.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.t.Fatalf("mosquittotest: %v", err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("mosquittotest: starting %s: %v", b.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.cmd, b.done = cmd, done

	// Wait until the listener accepts a connection. Ports stay in
	// TIME_WAIT for a while after a stop; mosquitto sets SO_REUSEADDR,
	// so the same port is available at once.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			b.cmd = nil
			b.t.Fatalf("mosquittotest: mosquitto exited at start (%v); its log:\n%s", cmd.ProcessState, b.Log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			b.cmd = nil
			b.t.Fatalf("mosquittotest: mosquitto does not accept connections on %s; its log:\n%s", b.Addr, b.Log())
		}
	}
}

// Stop stops the broker the way a service manager does (SIGTERM), which
// makes it save its persistence file, and waits until it has exited.
// Stopping a stopped broker does nothing.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(20 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd = nil
}

// Running reports whether the broker process is running.
func (b *Broker) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cmd != nil
}

// Log returns what the broker has logged so far, across restarts.
func (b *Broker) Log() string {
	data, _ := os.ReadFile(b.logFile)
	return string(data)
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mosquittotest: no free loopback port: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func (b *Broker) writeConfig(cfg Config) error {
	_, port, _ := net.SplitHostPort(b.Addr)
	var c strings.Builder
	fmt.Fprintf(&c, "listener %s 127.0.0.1\n", port)
	fmt.Fprintf(&c, "persistence true\npersistence_location %s/\n", b.Dir)
	c.WriteString("log_dest stdout\nlog_type all\nlog_timestamp_format %H:%M:%S\n")
	// Let persistent sessions queue everything a test sends.
	c.WriteString("max_queued_messages 0\nmax_inflight_messages 0\n")
	if os.Geteuid() == 0 {
		// As root, mosquitto would switch to the user "mosquitto", who
		// cannot write the persistence file in our directory.
		if u, err := user.Current(); err == nil {
			fmt.Fprintf(&c, "user %s\n", u.Username)
		}
	}
	if cfg.Users != nil {
		pw := filepath.Join(b.Dir, "passwords")
		if err := writePasswordFile(pw, cfg.Users); err != nil {
			return err
		}
		fmt.Fprintf(&c, "allow_anonymous false\npassword_file %s\n", pw)
	} else {
		c.WriteString("allow_anonymous true\n")
	}
	if cfg.TLS {
		if err := b.writeCertificates(cfg.RequireClientCert); err != nil {
			return err
		}
		fmt.Fprintf(&c, "cafile %s\ncertfile %s\nkeyfile %s\n", b.CAFile,
			filepath.Join(b.Dir, "server.crt"), filepath.Join(b.Dir, "server.key"))
		if cfg.RequireClientCert {
			c.WriteString("require_certificate true\n")
		}
	}
	c.WriteString(cfg.Extra)
	b.conf = filepath.Join(b.Dir, "mosquitto.conf")
	return os.WriteFile(b.conf, []byte(c.String()), 0o644)
}

// writePasswordFile writes a mosquitto password file in the format
// mosquitto_passwd writes: user:$7$iterations$salt$hash, PBKDF2 with
// HMAC-SHA512, so that the test needs no second binary.
func writePasswordFile(path string, users map[string]string) error {
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, u := range names {
		salt := make([]byte, 12)
		rand.Read(salt)
		const iter = 101
		key, err := pbkdf2.Key(sha512.New, users[u], salt, iter, sha512.Size)
		if err != nil {
			return err
		}
		fmt.Fprintf(&buf, "%s:$7$%d$%s$%s\n", u, iter,
			base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key))
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}

// writeCertificates makes a certificate authority, a server certificate
// for 127.0.0.1 and localhost, and a client certificate.
func (b *Broker) writeCertificates(client bool) error {
	ca, caKey, err := NewCA("mosquittotest CA")
	if err != nil {
		return err
	}
	b.CAFile = filepath.Join(b.Dir, "ca.crt")
	if err := writePEM(b.CAFile, "CERTIFICATE", ca.Raw); err != nil {
		return err
	}
	srv, srvKey, err := NewLeaf(ca, caKey, "127.0.0.1", true)
	if err != nil {
		return err
	}
	if err := writePair(filepath.Join(b.Dir, "server"), srv, srvKey); err != nil {
		return err
	}
	cli, cliKey, err := NewLeaf(ca, caKey, "smarty-test-client", false)
	if err != nil {
		return err
	}
	if err := writePair(filepath.Join(b.Dir, "client"), cli, cliKey); err != nil {
		return err
	}
	b.ClientCertFile = filepath.Join(b.Dir, "client.crt")
	b.ClientKeyFile = filepath.Join(b.Dir, "client.key")
	return nil
}

func writePair(base string, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	if err := writePEM(base+".crt", "CERTIFICATE", cert.Raw); err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(base+".key", "EC PRIVATE KEY", der)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

var serial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(time.Now().UnixNano() + serial.n)
}

// NewCA makes a self-signed certificate authority valid for a day.
func NewCA(name string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// NewLeaf makes a certificate signed by ca: for a server (valid for
// 127.0.0.1 and localhost) or for a client named name.
func NewLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, server bool) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}
