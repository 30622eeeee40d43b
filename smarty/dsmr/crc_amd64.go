//go:build !purego

package dsmr

// haveCLMUL reports whether the processor has the carry-less multiplication
// instruction (PCLMULQDQ) that foldCLMUL uses.
var haveCLMUL = cpuHasCLMUL()

// cpuHasCLMUL reports CPUID leaf 1's PCLMULQDQ bit.
//
//go:noescape
func cpuHasCLMUL() bool

// foldCLMUL folds p, whose length is a non-zero multiple of 16, into the
// sixteen bytes x, with crc (the register before p) added to its first two
// bytes: the CRC of x, from a zero register, is updateChecksum(crc, p). Each
// step multiplies the two halves of the running block by x^191 and x^127
// modulo the polynomial (bit-reflected, less one power for the product's
// shift) and adds the next block.
//
//go:noescape
func foldCLMUL(x *[16]byte, crc uint16, p []byte)
