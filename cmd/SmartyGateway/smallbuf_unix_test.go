//go:build unix

package main

import (
	"net"
	"syscall"
)

// dialSmallWindow connects with a receive buffer of a few kilobytes set
// before the connection is made, so that the peer's writes block as soon
// as that little is unread.
func dialSmallWindow(addr string) (net.Conn, error) {
	d := net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
		})
		return err
	}}
	return d.Dial("tcp", addr)
}
