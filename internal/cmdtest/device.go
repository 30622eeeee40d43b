package cmdtest

import (
	"net"
	"testing"
)

// SilentDevice returns, as a -device, the address of a network P1 adapter
// that accepts connections and never sends a byte: a meter whose P1 port
// is still closed. It stops at the end of the test and closes the
// connections it holds.
func SilentDevice(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		<-done
	})
	return "tcp://" + ln.Addr().String()
}
