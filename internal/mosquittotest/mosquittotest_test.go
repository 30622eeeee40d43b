package mosquittotest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

func connect(b *Broker, user, password string, tc *tls.Config) error {
	o := mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("mosquittotest").
		SetUsername(user).SetPassword(password).SetTLSConfig(tc).
		SetProtocolVersion(4).SetConnectTimeout(10 * time.Second)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	tok.Wait()
	if err := tok.Error(); err != nil {
		return err
	}
	c.Disconnect(100)
	return nil
}

func TestStopStart(t *testing.T) {
	b := Start(t, Config{})
	if err := connect(b, "", "", nil); err != nil {
		t.Fatalf("connect: %v", err)
	}
	b.Stop()
	if b.Running() {
		t.Fatal("Running after Stop")
	}
	if _, err := net.Dial("tcp", b.Addr); err == nil {
		t.Fatal("the port still accepts connections after Stop")
	}
	b.Start()
	if err := connect(b, "", "", nil); err != nil {
		t.Fatalf("connect after restart on the same port: %v", err)
	}
	if !strings.Contains(b.Log(), "Saving in-memory database") {
		t.Errorf("the broker did not save its persistence file at stop; log:\n%s", b.Log())
	}
	if _, err := os.Stat(b.Dir + "/mosquitto.db"); err != nil {
		t.Errorf("no persistence file: %v", err)
	}
}

func TestPasswordFile(t *testing.T) {
	b := Start(t, Config{Users: map[string]string{"alice": "s3cret", "bob": "other"}})
	for _, tc := range []struct {
		user, password string
		ok             bool
	}{
		{"alice", "s3cret", true},
		{"bob", "other", true},
		{"alice", "wrong", false},
		{"", "", false},
	} {
		err := connect(b, tc.user, tc.password, nil)
		if (err == nil) != tc.ok {
			t.Errorf("user %q password %q: err = %v, want success %v", tc.user, tc.password, err, tc.ok)
		}
	}
}

func TestTLS(t *testing.T) {
	b := Start(t, Config{TLS: true})
	pemData, err := os.ReadFile(b.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	if err := connect(b, "", "", &tls.Config{RootCAs: pool}); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	err = connect(b, "", "", &tls.Config{})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("without the CA: err = %v, want an unknown-authority error", err)
	}
}

func TestClientCertificate(t *testing.T) {
	b := Start(t, Config{TLS: true, RequireClientCert: true})
	pemData, _ := os.ReadFile(b.CAFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	pair, err := tls.LoadX509KeyPair(b.ClientCertFile, b.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := connect(b, "", "", &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	if err := connect(b, "", "", &tls.Config{RootCAs: pool}); err == nil {
		t.Fatal("without a client certificate: connected, want a refusal")
	}
}
