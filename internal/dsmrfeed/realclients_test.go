package dsmrfeed

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/NEXXTLAB/go-smarty-reader/internal/clienttest"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// What a client must have parsed out of each telegram.
type expected struct {
	crc                   string
	energyImport, powerIn string // decimal text as dsmr_parser prints it
	voltageL1             string
	energyImportFloat     float64
}

func expect(t *testing.T, tgs [][]byte) []expected {
	t.Helper()
	out := make([]expected, len(tgs))
	for i, b := range tgs {
		tg, err := dsmr.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		crc, _ := tg.CRC()
		e, _, _ := tg.Decimal(dsmr.CodeEnergyImport)
		p, _, _ := tg.Decimal(dsmr.CodePowerImport)
		v, _, _ := tg.Decimal(dsmr.MustParseOBIS("1-0:32.7.0"))
		out[i] = expected{fmt.Sprintf("%04X", crc), e.String(), p.String(), v.String(), e.Float64()}
	}
	return out
}

// dsmrParserLine is one line of read-dsmr-tcp's output.
type dsmrParserLine struct {
	Objects map[string]struct {
		Value *string `json:"value"`
		Unit  *string `json:"unit"`
	} `json:"objects"`
	CRCOK *bool `json:"crc_ok"`
}

func (l *dsmrParserLine) value(name string) string {
	if o, ok := l.Objects[name]; ok && o.Value != nil {
		return *o.Value
	}
	return "<absent>"
}

// TestRealClients: dsmr_parser, the library of Home Assistant's DSMR
// integration, reads the feed the way Home Assistant reads a network
// meter (and with its plain socket reader); the npm package dsmr-parser
// reads it from Node.js; socat records it. All four are connected at
// once, and each gets every telegram the simulator made, parsed with a
// valid CRC, and socat's copy is byte for byte what was sent.
func TestRealClients(t *testing.T) {
	t.Parallel()
	readDSMR := clienttest.DSMRClient(t)
	nodePath, node := clienttest.NodeModules(t)
	socat := clienttest.Program(t, "socat", "socat")

	s, stop := start(t, Config{Queue: 64}) // the telegrams come in a burst
	host, port, _ := net.SplitHostPort(s.Addr().String())
	const n = 20
	tgs := telegrams(n)
	want := expect(t, tgs)

	nargs := []string{host, port, "-n", strconv.Itoa(n), "--spec", "LUXEMBOURG_SMARTY", "--strict", "--timeout", "60"}
	python := map[string]*clienttest.Process{
		"asyncio": clienttest.Start(t, exec.Command(readDSMR, append(nargs, "--mode", "asyncio")...)),
		"sync":    clienttest.Start(t, exec.Command(readDSMR, append(nargs, "--mode", "sync")...)),
	}
	js := exec.Command(node, "testdata/read-dsmr.js", host, port, strconv.Itoa(n))
	js.Env = append(os.Environ(), "NODE_PATH="+nodePath)
	nodeProc := clienttest.Start(t, js)
	socatProc := clienttest.Start(t, exec.Command(socat, "-u", "TCP:"+s.Addr().String(), "STDOUT"))

	clienttest.Eventually(t, 30*time.Second, "four clients connected", func() bool { return s.Stats().Clients == 4 })
	for _, tg := range tgs {
		s.Send(tg)
	}

	for name, p := range python {
		if err := p.Wait(t, 60*time.Second); err != nil {
			t.Fatalf("dsmr_parser (%s): %v\nstderr:\n%s", name, err, p.Stderr.Bytes())
		}
		var lines []dsmrParserLine
		sc := bufio.NewScanner(&p.Stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l dsmrParserLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("dsmr_parser (%s): %v in %s", name, err, sc.Bytes())
			}
			lines = append(lines, l)
		}
		if len(lines) != n {
			t.Fatalf("dsmr_parser (%s) parsed %d telegrams, want %d", name, len(lines), n)
		}
		for i, l := range lines {
			w := want[i]
			if l.CRCOK == nil || !*l.CRCOK {
				t.Errorf("dsmr_parser (%s), telegram %d: crc_ok is not true", name, i+1)
			}
			if got := l.value("ELECTRICITY_IMPORTED_TOTAL"); got != w.energyImport {
				t.Errorf("dsmr_parser (%s), telegram %d: energy import %s, want %s", name, i+1, got, w.energyImport)
			}
			if got := l.value("CURRENT_ELECTRICITY_USAGE"); got != w.powerIn {
				t.Errorf("dsmr_parser (%s), telegram %d: power %s, want %s", name, i+1, got, w.powerIn)
			}
			if got := l.value("INSTANTANEOUS_VOLTAGE_L1"); got != w.voltageL1 {
				t.Errorf("dsmr_parser (%s), telegram %d: voltage L1 %s, want %s", name, i+1, got, w.voltageL1)
			}
			if got := l.value("LUXEMBOURG_EQUIPMENT_IDENTIFIER"); got == "<absent>" {
				t.Errorf("dsmr_parser (%s), telegram %d: no meter id", name, i+1)
			}
		}
	}

	if err := nodeProc.Wait(t, 60*time.Second); err != nil {
		t.Fatalf("node dsmr-parser: %v\nstderr:\n%s", err, nodeProc.Stderr.Bytes())
	}
	sc := bufio.NewScanner(&nodeProc.Stdout)
	sc.Buffer(nil, 1<<20)
	i := 0
	for ; sc.Scan(); i++ {
		var l struct {
			CRC     string             `json:"crc"`
			Objects map[string]float64 `json:"objects"`
		}
		// Text objects are strings; only the numbers are wanted.
		var raw struct {
			CRC     string                     `json:"crc"`
			Objects map[string]json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatalf("node dsmr-parser: %v in %s", err, sc.Bytes())
		}
		l.CRC = raw.CRC
		l.Objects = map[string]float64{}
		for k, v := range raw.Objects {
			var f float64
			if json.Unmarshal(v, &f) == nil {
				l.Objects[k] = f
			}
		}
		if i >= n {
			break
		}
		if l.CRC != want[i].crc {
			t.Errorf("node dsmr-parser, telegram %d: CRC %s, want %s", i+1, l.CRC, want[i].crc)
		}
		if got := l.Objects["electricity delivered tariff 0"]; got != want[i].energyImportFloat {
			t.Errorf("node dsmr-parser, telegram %d: energy import %v, want %v", i+1, got, want[i].energyImportFloat)
		}
	}
	if i != n {
		t.Errorf("node dsmr-parser parsed %d telegrams, want %d", i, n)
	}

	// socat ends when the server closes the connection.
	stop()
	if err := socatProc.Wait(t, 30*time.Second); err != nil {
		t.Fatalf("socat: %v\n%s", err, socatProc.Stderr.Bytes())
	}
	if sent := bytes.Join(tgs, nil); !bytes.Equal(socatProc.Stdout.Bytes(), sent) {
		t.Errorf("socat received %d bytes that differ from the %d sent", socatProc.Stdout.Len(), len(sent))
	}
}
