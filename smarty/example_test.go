package smarty_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

// Read telegrams from a captured dump; a serial port or a TCP connection
// works the same way.
func ExampleReader() {
	key, err := smarty.ParseKey("D491470F47126332B07D1923B3504188")
	if err != nil {
		log.Fatal(err)
	}
	dump, err := os.Open("../testdata/smarty-2018.bin")
	if err != nil {
		log.Fatal(err)
	}
	defer dump.Close()

	r := smarty.NewReader(dump, smarty.NewCipher(key, smarty.LuxembourgAuthKey))
	for {
		m, err := r.Next()
		var fe *smarty.FrameError
		if errors.As(err, &fe) {
			fmt.Println("skipped:", err)
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		t := &m.Telegram
		kWh, _ := t.EnergyImport()
		when, _ := t.Time()
		fmt.Println(m.Header.SystemTitle, m.Header.FrameCounter)
		fmt.Println(t.MeterID(), when, kWh, "kWh")
	}
	// Output:
	// 534147677001BD54 370915
	// SAG1030700114004 2018-01-30 10:21:22 +0100 CET 6.695 kWh
}

// A wrong key does not stop the Reader: each frame is reported, and a frame
// under the right key would still be read.
func ExampleFrameError() {
	frame, err := os.ReadFile("../testdata/smarty-2018.bin")
	if err != nil {
		log.Fatal(err)
	}
	wrong := smarty.Key{1, 2, 3}
	r := smarty.NewReader(bytes.NewReader(frame), smarty.NewCipher(wrong, smarty.LuxembourgAuthKey))
	_, err = r.Next()
	fmt.Println(err)
	fmt.Println(errors.Is(err, smarty.ErrAuth))
	var fe *smarty.FrameError
	if errors.As(err, &fe) {
		fmt.Println(fe.Failure()) // a stable name, for counters and metrics
	}
	// Output:
	// smarty: encrypted frame at byte 0 (system title 534147677001BD54, frame counter 370915): authentication failed: wrong key, or the meter uses another authentication key, or the frame was damaged
	// true
	// auth
}

// Seal makes a frame as a meter would, for tests and simulators.
func ExampleCipher_Seal() {
	var key smarty.Key // all zeros: a test key
	c := smarty.NewCipher(key, smarty.LuxembourgAuthKey)
	title := smarty.SystemTitle{'S', 'A', 'G', 1, 2, 3, 4, 5}
	frame := c.Seal(nil, title, 42, []byte("/Lux5\\1\r\n\r\n1-3:0.2.8(42)\r\n!\r\n"))
	fmt.Printf("% X\n", frame[:18])

	m, err := smarty.NewReader(bytes.NewReader(frame), c).Next()
	fmt.Printf("%d %q %v\n", m.Header.FrameCounter, m.Telegram.Bytes()[:6], err)
	// Output:
	// DB 08 53 41 47 01 02 03 04 05 2E 30 00 00 00 2A 86 B7
	// 42 "/Lux5\\" <nil>
}

// A Key never shows itself, so it can be logged by mistake without harm.
func ExampleKey() {
	key, err := smarty.ParseKey("D4 91 47 0F 47 12 63 32 B0 7D 19 23 B3 50 41 88")
	fmt.Println(key, err)
	fmt.Printf("%x %#v\n", key, key)

	_, err = smarty.ParseKey("D491470F")
	fmt.Println(err)
	// Output:
	// [redacted] <nil>
	// [redacted] smarty.Key([redacted])
	// smarty: invalid key: a key is 32 hex digits (16 bytes), this one has 8
}
