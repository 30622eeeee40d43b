package p1_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"strings"

	"github.com/NEXXTLAB/go-smarty-reader/smarty"
	"github.com/NEXXTLAB/go-smarty-reader/smarty/p1"
)

// testKey reads the key of the capture in testdata; a real program reads
// its own key from where its user keeps it, and never prints it.
func testKey() smarty.Key {
	b, err := os.ReadFile("../../testdata/smarty-2018.key")
	if err != nil {
		log.Fatal(err)
	}
	key, err := smarty.ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		log.Fatal(err)
	}
	return key
}

// Open a device and read it with a smarty.Reader. The device here is a
// capture of a meter's P1 port; a serial port (/dev/ttyUSB0, COM3) or a
// network adapter (tcp://192.168.1.20:2001) is opened the same way.
func ExampleOpen() {
	src, err := p1.Open(context.Background(), "../../testdata/smarty-2018.bin")
	if err != nil {
		log.Fatal(err) // a *p1.DeviceError that says what went wrong
	}
	defer src.Close()

	r := smarty.NewReader(src, smarty.NewCipher(testKey(), smarty.LuxembourgAuthKey))
	for {
		m, err := r.Next()
		var fe *smarty.FrameError
		if errors.As(err, &fe) {
			continue // one bad frame; the next is read
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		kWh, _ := m.Telegram.EnergyImport()
		fmt.Println(m.Telegram.MeterID(), kWh, "kWh")
	}
	// Output:
	// SAG1030700114004 6.695 kWh
}

// A Stream reads a meter for as long as the program runs: it reopens a
// device that went away, and ends only at the end of a file, with a key
// that cannot work, or at Close.
func ExampleStream() {
	ctx := context.Background()
	st, err := p1.NewStream(ctx, p1.Config{
		Device: "../../testdata/smarty-2018.bin",
		Cipher: smarty.NewCipher(testKey(), smarty.LuxembourgAuthKey),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	for {
		m, err := st.Next(ctx)
		var fe *smarty.FrameError
		if errors.As(err, &fe) {
			continue // counted in Stats by class: fe.Failure()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err) // a *p1.KeyError, or a device that cannot work
		}
		fmt.Println(m.Header.SystemTitle, m.Header.FrameCounter)
	}
	s := st.Stats()
	fmt.Println(s.Telegrams, "telegram,", s.Failed, "failed, link", s.Link)
	// Output:
	// 534147677001BD54 370915
	// 1 telegram, 0 failed, link up
}

// A wrong key ends the Stream once three frames of the meter have failed:
// a *p1.KeyError that a program turns into its own advice.
func ExampleKeyError() {
	ctx := context.Background()
	dump, err := os.ReadFile("../../testdata/smarty-2018.bin")
	if err != nil {
		log.Fatal(err)
	}
	capture := strings.Repeat(string(dump), 3)
	file, err := os.CreateTemp("", "capture")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(file.Name())
	file.WriteString(capture)
	file.Close()

	wrong := smarty.Key{1, 2, 3}
	st, err := p1.NewStream(ctx, p1.Config{Device: file.Name(), Cipher: smarty.NewCipher(wrong, smarty.LuxembourgAuthKey)})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	for {
		_, err := st.Next(ctx)
		var fe *smarty.FrameError
		if errors.As(err, &fe) {
			fmt.Println("skipped:", fe.Failure())
			continue
		}
		var ke *p1.KeyError
		if errors.As(err, &ke) {
			fmt.Println(errors.Is(err, p1.ErrWrongKey), ke.Frames, ke.SystemTitle)
		}
		break
	}
	// Output:
	// skipped: auth
	// skipped: auth
	// true 3 534147677001BD54
}

// A program that reads a meter for months and prints the net power: the
// power drawn from the grid minus the power fed into it. Unplug the cable
// and plug it back: the Stream waits for it and goes on.
func Example_netPower() {
	key, err := smarty.ParseKey(os.Getenv("SMARTY_KEY")) // the 32 hex digits from Creos
	if err != nil {
		log.Fatal(err) // says what is wrong, without repeating the key
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st, err := p1.NewStream(ctx, p1.Config{
		Device: "/dev/ttyUSB0", // or tcp://192.168.1.20:2001
		Cipher: smarty.NewCipher(key, smarty.LuxembourgAuthKey),
		Wait:   true,           // for the cable, at the start as later
		Logger: slog.Default(), // says when the meter is gone, and back
	})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	for {
		m, err := st.Next(ctx)
		var fe *smarty.FrameError
		switch {
		case errors.As(err, &fe):
			continue // one damaged frame; the next comes in 10 s
		case err != nil:
			log.Fatal(err) // Ctrl-C, or a key that cannot work
		}
		if kW, ok := m.Telegram.NetPower(); ok {
			fmt.Printf("%s %.3f kW\n", m.Telegram.MeterID(), kW) // < 0: exporting
		}
	}
}
