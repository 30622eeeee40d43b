package clienttest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// Browser is headless Chromium (the Debian package), driven through the
// DevTools protocol: one tab, to load a page, evaluate JavaScript in it
// and take screenshots.
type Browser struct {
	t    testing.TB
	conn *websocket.Conn
	mu   sync.Mutex
	id   int
}

// shared is the Chromium that the tests of one test binary share: it
// takes a second or two of CPU to start, a tab a few milliseconds.
var shared struct {
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	stderr  bytes.Buffer
	profile string
	port    string
}

// StartChromium opens a tab in headless Chromium, started with a new
// profile for the first test of the test binary that asks, and shared
// by the others. The tab is closed when the test ends; the browser when
// StopChromium is called, which the TestMain of a package that uses
// StartChromium must do (and on Linux, when the test binary ends).
func StartChromium(t testing.TB) *Browser {
	t.Helper()
	bin := Program(t, "chromium", "chromium")
	port := sharedChromium(t, bin)
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:"+port+"/json/new?about:blank", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("opening a tab in Chromium: %v", err)
	}
	var target struct {
		ID                   string `json:"id"`
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	err = json.NewDecoder(resp.Body).Decode(&target)
	resp.Body.Close()
	if err != nil || target.WebSocketDebuggerURL == "" {
		t.Fatalf("opening a tab in Chromium: %v", err)
	}
	conn, _, err := websocket.DefaultDialer.Dial(target.WebSocketDebuggerURL, nil)
	if err != nil {
		t.Fatalf("connecting to Chromium's tab: %v", err)
	}
	t.Cleanup(func() {
		conn.Close()
		if resp, err := http.Get("http://127.0.0.1:" + port + "/json/close/" + target.ID); err == nil {
			resp.Body.Close()
		}
	})
	return &Browser{t: t, conn: conn}
}

// sharedChromium starts the shared Chromium unless it runs, and returns
// its DevTools port.
func sharedChromium(t testing.TB, bin string) string {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cmd != nil {
		select {
		case <-shared.done:
			t.Fatalf("the shared chromium ended: %s", shared.stderr.Bytes())
		default:
			return shared.port
		}
	}
	profile, err := os.MkdirTemp("", "clienttest-chromium")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
		// The tests' tabs are open side by side: none is throttled as
		// a tab in the background would be.
		"--disable-background-timer-throttling", "--disable-renderer-backgrounding",
		"--disable-backgrounding-occluded-windows",
		"--user-data-dir="+profile, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"about:blank")
	cmd.Stderr = &shared.stderr
	ownGroup(cmd)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(profile)
		t.Fatalf("starting %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	shared.cmd, shared.done, shared.profile = cmd, done, profile
	// Chromium writes its port into DevToolsActivePort once it listens.
	Eventually(t, 60*time.Second, "Chromium's DevTools port", func() bool {
		select {
		case <-done:
			t.Fatalf("chromium ended: %s", shared.stderr.Bytes())
		default:
		}
		b, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort"))
		if err != nil {
			return false
		}
		shared.port, _, _ = strings.Cut(string(b), "\n")
		return shared.port != ""
	})
	return shared.port
}

// StopChromium stops the Chromium that StartChromium started, if any.
// Call it from TestMain after m.Run.
func StopChromium() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cmd == nil {
		return
	}
	killGroup(shared.cmd)
	<-shared.done
	os.RemoveAll(shared.profile)
	shared.cmd = nil
}

// call sends one DevTools command and returns its result, skipping the
// events that arrive meanwhile.
func (b *Browser) call(method string, params any, result any) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.id++
	id := b.id
	b.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := b.conn.WriteJSON(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return err
	}
	b.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		var msg struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := b.conn.ReadJSON(&msg); err != nil {
			return err
		}
		if msg.ID != id {
			continue
		}
		if msg.Error != nil {
			return fmt.Errorf("%s: %s", method, msg.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(msg.Result, result)
		}
		return nil
	}
}

// Phone makes the tab a phone's screen: width by height CSS pixels at
// scale device pixels each.
func (b *Browser) Phone(width, height int, scale float64) {
	b.t.Helper()
	if err := b.call("Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": scale, "mobile": true,
	}, nil); err != nil {
		b.t.Fatal(err)
	}
}

// Navigate loads url in the tab.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	var r struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.call("Page.navigate", map[string]any{"url": url}, &r); err != nil {
		b.t.Fatal(err)
	}
	if r.ErrorText != "" {
		b.t.Fatalf("loading %s: %s", url, r.ErrorText)
	}
}

// Eval evaluates a JavaScript expression in the page and returns its
// value as a string (JSON for anything but a string).
func (b *Browser) Eval(expr string) (string, error) {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return "", err
	}
	if r.ExceptionDetails != nil {
		return "", fmt.Errorf("%s: %s", expr, r.ExceptionDetails.Text)
	}
	var s string
	if json.Unmarshal(r.Result.Value, &s) == nil {
		return s, nil
	}
	return string(r.Result.Value), nil
}

// Screenshot returns a PNG of the whole page.
func (b *Browser) Screenshot() []byte {
	b.t.Helper()
	var r struct {
		Data string `json:"data"`
	}
	if err := b.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r); err != nil {
		b.t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	return png
}
