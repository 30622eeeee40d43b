// Package soak holds the soak test of the live reader: the simulated meter
// at full speed through a pseudo-terminal into the reader OnlineDecryption
// uses (p1.Stream over p1.Open and smarty.Reader), with the
// "USB cable" unplugged and plugged back at regular intervals. Every frame
// must be decoded, and the number of goroutines and the heap must be the
// same at the end as at the start.
//
//	go test ./internal/soak              # 20 000 frames, a reconnect every 2 000
//	go test ./internal/soak -short       # 1 000 frames, a reconnect every 250
//	go test ./internal/soak -soak -v     # 100 000 frames, a reconnect every 10 000
//
// The package has no code of its own outside its test.
package soak
