//go:build !darwin || cgo

package p1

import "go.bug.st/serial/enumerator"

// listPorts asks the system for its serial ports and their USB details.
func listPorts() ([]PortInfo, error) {
	details, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, err
	}
	ports := make([]PortInfo, 0, len(details))
	for _, d := range details {
		if d == nil {
			continue
		}
		ports = append(ports, PortInfo{
			Name:         d.Name,
			USB:          d.IsUSB,
			VID:          d.VID,
			PID:          d.PID,
			SerialNumber: d.SerialNumber,
			Product:      d.Product,
		})
	}
	return ports, nil
}
