package p1

import (
	"fmt"
	"strings"
)

// PortInfo describes a serial port of this machine.
type PortInfo struct {
	// Name is what to give Open: /dev/ttyUSB0, COM3.
	Name string
	// USB is true for USB serial adapters, such as P1 cables.
	USB bool
	// VID and PID are the USB vendor and product ids in hex (0403 and
	// 6001 for an FTDI cable), empty when unknown.
	VID, PID string
	// SerialNumber is the adapter's USB serial number, empty when unknown.
	SerialNumber string
	// Product is the adapter's product name, empty when unknown.
	Product string
}

// String returns the port on one line: its name, then what is known of
// it, "/dev/ttyUSB0  USB 0403:6001 serial A10KZP45 (FT232R USB UART)".
func (p PortInfo) String() string {
	var b strings.Builder
	b.WriteString(p.Name)
	if p.USB {
		b.WriteString("  USB")
		if p.VID != "" || p.PID != "" {
			fmt.Fprintf(&b, " %s:%s", strings.ToLower(p.VID), strings.ToLower(p.PID))
		}
		if p.SerialNumber != "" {
			fmt.Fprintf(&b, " serial %s", p.SerialNumber)
		}
		if p.Product != "" {
			fmt.Fprintf(&b, " (%s)", p.Product)
		}
	}
	return b.String()
}

// ListPorts returns the serial ports of this machine, USB adapters with
// their vendor and product ids. It does not open the ports. An empty list
// with a nil error means the machine has no serial port.
func ListPorts() ([]PortInfo, error) {
	ports, err := listPorts()
	if err != nil {
		return nil, fmt.Errorf("p1: listing serial ports: %w", err)
	}
	return ports, nil
}
