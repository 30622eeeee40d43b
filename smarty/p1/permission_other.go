//go:build !unix

package p1

// permissionAdvice says, after "permission denied on DEVICE", how to get
// the right to open a serial port.
func permissionAdvice(string) string {
	return ": run as a user allowed to use serial ports"
}
