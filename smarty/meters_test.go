package smarty

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/NEXXTLAB/go-smarty-reader/smarty/dsmr"
)

// meterTelegrams returns the telegrams of the corpus of real meters in
// ../testdata/meters, each ending with a line end.
func meterTelegrams(tb testing.TB) (names []string, telegrams [][]byte) {
	tb.Helper()
	dir := filepath.Join("..", "testdata", "meters")
	f, err := os.Open(filepath.Join(dir, "index.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		name, _, _ := strings.Cut(sc.Text(), "\t")
		b := readFile(tb, filepath.Join(dir, name+".txt"))
		if !bytes.HasSuffix(b, []byte("\n")) {
			b = append(b, "\r\n"...)
		}
		names = append(names, name)
		telegrams = append(telegrams, b)
	}
	if len(names) < 60 {
		tb.Fatalf("%d telegrams in the corpus", len(names))
	}
	return names, telegrams
}

// TestReaderMeters feeds every telegram of the corpus of real meters
// through the Reader in one stream, with noise between them: each one the
// parser takes comes out whole, exactly as it went in, and each one it does
// not is reported and skipped, whatever its identification line and
// whatever the chunks the stream comes in.
func TestReaderMeters(t *testing.T) {
	names, telegrams := meterTelegrams(t)
	noises := []string{"", "\r\n", "x7 garbage)", "\x00\xff/\r\n", "!1234\r\n"}
	var stream []byte
	type want struct {
		name  string
		start int
		good  bool
	}
	var wants []want
	for k, tg := range telegrams {
		stream = append(stream, noises[k%len(noises)]...)
		_, err := dsmr.Parse(tg)
		wants = append(wants, want{names[k], len(stream), err == nil})
		stream = append(stream, tg...)
	}
	for _, ch := range chunkings[:3] {
		t.Run(ch.name, func(t *testing.T) {
			r := NewReader(ch.wrap(bytes.NewReader(stream)), nil)
			k := 0
			for {
				m, err := r.Next()
				var fe *FrameError
				switch {
				case errors.As(err, &fe):
					for k < len(wants) && wants[k].start < int(fe.Offset) {
						k++
					}
					if k == len(wants) || int(fe.Offset) != wants[k].start || wants[k].good {
						t.Fatalf("frame error at byte %d, not at a telegram the parser refuses: %v", fe.Offset, err)
					}
					k++
					continue
				case err != nil:
					if k != len(wants) {
						t.Fatalf("stream ended (%v) with %d of %d telegrams seen", err, k, len(wants))
					}
					return
				}
				w := wants[k]
				if int(m.Offset) != w.start || !w.good {
					t.Fatalf("telegram at byte %d, want %s at %d", m.Offset, w.name, w.start)
				}
				if got := m.Telegram.Bytes(); !bytes.Equal(got, telegrams[k]) {
					t.Fatalf("%s: got %q", w.name, got)
				}
				k++
			}
		})
	}
}
