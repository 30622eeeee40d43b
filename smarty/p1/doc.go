// Package p1 reads the P1 port of a smart meter: a serial port (a USB P1
// cable) at 115200 baud 8N1, a network P1 adapter or ser2net over TCP, or
// a file holding a capture.
//
// A [Stream] is what a program that runs for months wants: telegrams from
// a meter, whatever happens to the cable. It opens the device, reads it
// with a [github.com/NEXXTLAB/go-smarty-reader/smarty.Reader], reopens it
// with backoff when it goes away or falls silent, tells when the meter's
// link goes down and comes back, ends with a [*KeyError] when the key is
// wrong or missing, and counts everything in [Stats]:
//
//	st, err := p1.NewStream(ctx, p1.Config{
//		Device: "/dev/ttyUSB0", // or "tcp://192.168.1.20:2001"
//		Cipher: smarty.NewCipher(key, smarty.LuxembourgAuthKey),
//	})
//	if err != nil {
//		return err // a *DeviceError: says what went wrong with which device
//	}
//	defer st.Close()
//	for {
//		m, err := st.Next(ctx)
//		...
//	}
//
// [Open] gives the bare byte stream, a [Source], for a program that reads
// it its own way.
//
// Errors are [*DeviceError] values. They wrap a kind ([ErrBusy],
// [ErrNotSerial], [ErrDisconnected], [ErrUnreachable], [ErrInvalidDevice],
// [io/fs.ErrNotExist], [io/fs.ErrPermission]) to test with [errors.Is],
// and their text says what went wrong, never which command-line flag to
// use: that is the program's to say.
package p1
