//go:build !linux

package p1

// permissionHint says how to get the right to open a serial port.
const permissionHint = "run as a user allowed to use serial ports (on most systems a member of the dialout or uucp group)"
