//go:build darwin && !cgo

package p1

import "go.bug.st/serial"

// listPorts lists the serial ports by name only: on macOS the USB details
// need cgo.
func listPorts() ([]PortInfo, error) {
	names, err := serial.GetPortsList()
	if err != nil {
		return nil, err
	}
	ports := make([]PortInfo, len(names))
	for i, n := range names {
		ports[i] = PortInfo{Name: n}
	}
	return ports, nil
}
