//go:build !amd64 || purego

package dsmr

// haveCLMUL is false: the tables do all the work on this architecture.
const haveCLMUL = false

func foldCLMUL(x *[16]byte, crc uint16, p []byte) { panic("dsmr: foldCLMUL without PCLMULQDQ") }
