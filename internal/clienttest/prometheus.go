package clienttest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// FreePort returns a loopback address with a port that was free a moment
// ago, for a program that must be told its port.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Scrape says what a Prometheus server scrapes.
type Scrape struct {
	Target             string        // host:port
	Path               string        // "/metrics" when empty
	Interval           time.Duration // 1 s when 0
	Username, Password string        // basic authentication, when Password is set
}

// Prometheus is a real Prometheus server (the Debian package), started on
// a free loopback port with its own storage directory.
type Prometheus struct {
	URL    string // http://127.0.0.1:port
	Config string // the configuration it runs with
	proc   *Process
}

// StartPrometheus starts a Prometheus server that scrapes sc, and waits
// until it is ready. It is stopped when the test ends.
func StartPrometheus(t testing.TB, sc Scrape) *Prometheus {
	t.Helper()
	bin := Program(t, "prometheus", "prometheus")
	if sc.Path == "" {
		sc.Path = "/metrics"
	}
	if sc.Interval == 0 {
		sc.Interval = time.Second
	}
	dir := t.TempDir()
	conf := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
scrape_configs:
  - job_name: smarty
    metrics_path: %[2]q
    static_configs:
      - targets: [%[3]q]
`, sc.Interval, sc.Path, sc.Target)
	if sc.Password != "" {
		pw := filepath.Join(dir, "password")
		if err := os.WriteFile(pw, []byte(sc.Password), 0o600); err != nil {
			t.Fatal(err)
		}
		conf += fmt.Sprintf("    basic_auth:\n      username: %q\n      password_file: %q\n", sc.Username, pw)
	}
	confFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := FreePort(t)
	p := &Prometheus{URL: "http://" + addr, Config: conf}
	p.proc = Start(t, exec.Command(bin,
		"--config.file="+confFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
		// The scrape manager takes new targets at most this often (5 s
		// by default): the first scrape would wait that long.
		"--scrape.discovery-reload-interval=100ms",
	))
	Eventually(t, 30*time.Second, "Prometheus ready", func() bool {
		select {
		case <-p.proc.Done():
			t.Fatalf("prometheus ended: %s", p.proc.Stderr.Bytes())
		default:
		}
		resp, err := http.Get(p.URL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// Sample is one element of a query's instant vector.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query evaluates expr now through Prometheus's HTTP query API.
func (p *Prometheus) Query(expr string) ([]Sample, error) {
	resp, err := http.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query %s: %v in %s", expr, err, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", expr, r.Error)
	}
	out := make([]Sample, len(r.Data.Result))
	for i, s := range r.Data.Result {
		v, _ := s.Value[1].(string)
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v", expr, s.Value[1])
		}
		out[i] = Sample{Labels: s.Metric, Value: f}
	}
	return out, nil
}

// Targets returns the health of the scrape targets ("up", "down",
// "unknown") and their last errors.
func (p *Prometheus) Targets() (health, lastError string, err error) {
	resp, err := http.Get(p.URL + "/api/v1/targets")
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			ActiveTargets []struct {
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "", "", err
	}
	if len(r.Data.ActiveTargets) == 0 {
		return "", "", nil
	}
	return r.Data.ActiveTargets[0].Health, r.Data.ActiveTargets[0].LastError, nil
}

// CheckMetrics runs promtool check metrics on body and returns what it
// said, with an error when it found problems.
func CheckMetrics(t testing.TB, body []byte) (string, error) {
	t.Helper()
	promtool := Program(t, "promtool", "prometheus")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytesReader(body)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
