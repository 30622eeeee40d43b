//go:build !purego

#include "textflag.h"

// func cpuHasCLMUL() bool
TEXT ·cpuHasCLMUL(SB), NOSPLIT, $0-1
	MOVL $1, AX
	XORL CX, CX
	CPUID
	SHRL $1, CX
	ANDL $1, CX
	MOVB CX, ret+0(FP)
	RET

// func foldCLMUL(x *[16]byte, crc uint16, p []byte)
TEXT ·foldCLMUL(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), DI
	MOVWQZX crc+8(FP), AX
	MOVQ p_base+16(FP), SI
	MOVQ p_len+24(FP), CX
	MOVOU (SI), X0
	MOVQ AX, X1
	PXOR X1, X0
	// X2: x^191 mod P in the low half, x^127 mod P in the high half,
	// bit-reflected in 64 bits.
	MOVQ $0xccd0000000000000, AX
	MOVQ AX, X2
	MOVQ $0xc100000000000000, AX
	MOVQ AX, X3
	PUNPCKLQDQ X3, X2
	ADDQ $16, SI
	SUBQ $16, CX
	JZ done

loop:
	MOVO X0, X1
	PCLMULQDQ $0x00, X2, X0
	PCLMULQDQ $0x11, X2, X1
	MOVOU (SI), X3
	PXOR X1, X0
	PXOR X3, X0
	ADDQ $16, SI
	SUBQ $16, CX
	JNZ loop

done:
	MOVOU X0, (DI)
	RET
