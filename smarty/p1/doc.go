// Package p1 opens the P1 port of a smart meter: a serial port (a USB P1
// cable) at 115200 baud 8N1, a network P1 adapter or ser2net over TCP, or
// a file holding a capture. Its [Source] is the byte stream that
// [github.com/NEXXTLAB/go-smarty-reader/smarty.Reader] reads.
//
//	src, err := p1.Open(ctx, "/dev/ttyUSB0") // or "tcp://192.168.1.20:2001"
//	if err != nil {
//		return err // a *DeviceError: says what went wrong with which device
//	}
//	defer src.Close()
//	r := smarty.NewReader(src, smarty.NewCipher(key, smarty.LuxembourgAuthKey))
//
// Errors are [*DeviceError] values. They wrap a kind ([ErrBusy],
// [ErrNotSerial], [ErrDisconnected], [ErrUnreachable], [ErrInvalidDevice],
// [io/fs.ErrNotExist], [io/fs.ErrPermission]) to test with [errors.Is],
// and their text says what went wrong, never which command-line flag to
// use: that is the program's to say.
package p1
