package mqttpub

import (
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/NEXXTLAB/go-smarty-reader/internal/mosquittotest"
)

// The Debian build of Mosquitto (2.0.11 in bookworm) has no WebSockets
// listener, so these tests put a small WebSocket-to-TCP bridge in front of
// the real broker, as a reverse proxy (nginx, Traefik) does in many
// installations: MQTT over WebSockets from the publisher, plain MQTT from
// the bridge to Mosquitto.

// wsBridge serves MQTT over WebSockets (subprotocol "mqtt", binary
// messages) and relays every connection to the broker at addr. It counts
// the connections it relayed, so that a test can tell the publisher really
// came through it.
type wsBridge struct {
	addr string

	mu    sync.Mutex
	conns int
	path  string // request path of the last connection
}

func (br *wsBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{Subprotocols: []string{"mqtt"}}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client
	}
	defer ws.Close()
	tcp, err := net.Dial("tcp", br.addr)
	if err != nil {
		return
	}
	defer tcp.Close()
	br.mu.Lock()
	br.conns++
	br.path = r.URL.Path
	br.mu.Unlock()

	done := make(chan struct{}, 2)
	go func() { // broker -> client
		buf := make([]byte, 32<<10)
		for {
			n, err := tcp.Read(buf)
			if n > 0 && ws.WriteMessage(websocket.BinaryMessage, buf[:n]) != nil {
				break
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}()
	go func() { // client -> broker
		for {
			_, rd, err := ws.NextReader()
			if err != nil {
				break
			}
			if _, err := io.Copy(tcp, rd); err != nil {
				break
			}
		}
		done <- struct{}{}
	}()
	<-done // either side gone: close both (deferred)
}

func (br *wsBridge) seen() (int, string) {
	br.mu.Lock()
	defer br.mu.Unlock()
	return br.conns, br.path
}

// TestBrokerWebSockets publishes over ws:// and wss:// (the latter with a
// CA file, and refused without it) and checks that a plain subscriber on
// the broker gets the telegrams.
func TestBrokerWebSockets(t *testing.T) {
	t.Parallel() // a broker of its own
	b := mosquittotest.Start(t, mosquittotest.Config{})
	sub := subscribe(t, b.URL(), "ws-watcher", "smarty/telegram", false)

	t.Run("ws", func(t *testing.T) {
		br := &wsBridge{addr: b.Addr}
		srv := httptest.NewServer(br)
		defer srv.Close()
		url := "ws://" + srv.Listener.Addr().String() + "/mqtt"
		p, stop := startPublisher(t, Config{Broker: url, QoS: 1, ClientID: "smarty-ws"})
		p.Add(reading(1))
		p.Add(reading(2))
		waitStats(t, p, "two telegrams delivered over ws://", func(s Stats) bool { return s.Published == 2 })
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if n, path := br.seen(); n == 0 || path != "/mqtt" {
			t.Fatalf("the bridge relayed %d connections (last path %q): the publisher did not come through ws://.../mqtt", n, path)
		}
	})

	// A TLS server whose certificate the test writes out as the CA file.
	br := &wsBridge{addr: b.Addr}
	srv := httptest.NewUnstartedServer(br)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below is expected
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemCert, 0o644); err != nil {
		t.Fatal(err)
	}
	wss := "wss://" + srv.Listener.Addr().String() + "/mqtt"

	t.Run("wss with the CA file", func(t *testing.T) {
		tc, err := LoadTLS(ca, "", "")
		if err != nil {
			t.Fatal(err)
		}
		p, stop := startPublisher(t, Config{Broker: wss, QoS: 1, TLS: tc, ClientID: "smarty-wss"})
		p.Add(reading(3))
		waitStats(t, p, "a telegram delivered over wss://", func(s Stats) bool { return s.Published == 1 })
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if n, _ := br.seen(); n == 0 {
			t.Fatal("the TLS bridge relayed no connection")
		}
	})
	t.Run("wss without the CA file", func(t *testing.T) {
		before, _ := br.seen()
		p, stop := startPublisher(t, Config{Broker: wss, QoS: 1, ClientID: "smarty-wss-noca"})
		p.Add(reading(4))
		err := waitRunError(t, p, stop)
		t.Logf("error: %v", err)
		if msg, ok := FlagMessage(err); err == nil || !ok || !strings.Contains(msg, "-mqttCaFile") {
			t.Fatalf("Run: %v, want a TLS error whose FlagMessage mentions -mqttCaFile", err)
		}
		if after, _ := br.seen(); after != before {
			t.Fatal("an untrusted wss:// server was used")
		}
	})

	m := sub.WaitFor(t, "telegrams 1 to 3", func(m []received) bool { return len(frameCounters(t, m)) >= 3 })
	if diff := cmp.Diff([]int{1, 2, 3}, frameCounters(t, m)); diff != "" {
		t.Errorf("telegrams on the broker (-want +got):\n%s", diff)
	}
}
