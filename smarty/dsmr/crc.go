package dsmr

// CRC-16/ARC as used by DSMR P1 telegrams: polynomial 0x8005 in reflected
// form (0xA001), initial value 0, no final XOR. The telegram's checksum covers
// every byte from the leading '/' through the '!' inclusive.
//
// The implementation processes sixteen bytes per step with sixteen lookup
// tables of 512 bytes ("slicing by 16"), about 20 times faster than the
// bit-at-a-time loop on the 600 to 1500 byte telegrams a meter sends. Its
// speed is bound by the two loads per byte (the data and its table entry):
// the fourteen lookups that do not depend on the register are XORed as a
// tree, apart from it, so that the loop-carried chain is only two lookups
// and two XORs. Loading the data eight bytes at a time and shifting was
// slower, as were 32 tables.
//
// On amd64 with PCLMULQDQ (crc_amd64.s), updateChecksum first folds the whole
// sixteen-byte blocks into sixteen bytes of the same remainder with carry-less
// multiplications, about ten instructions a block against sixty with the
// tables, and the tables finish on those sixteen bytes and the tail. The tag
// purego leaves the tables alone; TestChecksumLong holds both to the bitwise
// reference.

// crcTables[k][b] is the CRC register contribution of byte b followed by k
// zero bytes.
var crcTables = makeCRCTables()

func makeCRCTables() *[16][256]uint16 {
	t := new([16][256]uint16)
	for i := range 256 {
		crc := uint16(i)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
		t[0][i] = crc
	}
	for k := 1; k < 16; k++ {
		for i := range 256 {
			prev := t[k-1][i]
			t[k][i] = prev>>8 ^ t[0][prev&0xFF]
		}
	}
	return t
}

// Checksum returns the CRC-16/ARC checksum of data.
func Checksum(data []byte) uint16 {
	return updateChecksum(0, data)
}

// updateChecksum returns the result of adding the bytes in p to crc, so that a
// checksum can be computed over data that arrives in pieces:
// updateChecksum(Checksum(a), b) == Checksum(append(a, b...)).
func updateChecksum(crc uint16, p []byte) uint16 {
	if haveCLMUL && len(p) >= 32 {
		// Fold the whole sixteen-byte blocks into sixteen bytes with the same
		// remainder, then finish on those and the tail.
		n := len(p) &^ 15
		var x [16]byte
		foldCLMUL(&x, crc, p[:n])
		crc = updateChecksumTables(0, x[:])
		p = p[n:]
	}
	return updateChecksumTables(crc, p)
}

// updateChecksumTables is updateChecksum with the tables alone, on every
// architecture.
func updateChecksumTables(crc uint16, p []byte) uint16 {
	t := crcTables
	for len(p) >= 16 {
		q := p[:16] // one bounds check for the sixteen bytes
		a := t[13][q[2]] ^ t[12][q[3]]
		b := t[11][q[4]] ^ t[10][q[5]]
		c := t[9][q[6]] ^ t[8][q[7]]
		d := t[7][q[8]] ^ t[6][q[9]]
		e := t[5][q[10]] ^ t[4][q[11]]
		f := t[3][q[12]] ^ t[2][q[13]]
		g := t[1][q[14]] ^ t[0][q[15]]
		x := (a ^ b) ^ (c ^ d) ^ ((e ^ f) ^ g)
		r := crc ^ (uint16(q[0]) | uint16(q[1])<<8)
		crc = x ^ t[15][byte(r)] ^ t[14][r>>8]
		p = p[16:]
	}
	if len(p) >= 8 {
		q := p[:8]
		a := t[5][q[2]] ^ t[4][q[3]]
		b := t[3][q[4]] ^ t[2][q[5]]
		c := t[1][q[6]] ^ t[0][q[7]]
		r := crc ^ (uint16(q[0]) | uint16(q[1])<<8)
		crc = (a ^ b ^ c) ^ t[7][byte(r)] ^ t[6][r>>8]
		p = p[8:]
	}
	for _, b := range p {
		crc = crc>>8 ^ t[0][byte(crc)^b]
	}
	return crc
}
