package smarty

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The real frame decrypts to exactly the plaintext the meter sent.
func TestOpenRealFrame(t *testing.T) {
	frame := readFile(t, realFramePath)
	want := readFile(t, realPlaintextPath)
	got, h, err := realCipher(t).openFrame(nil, frame)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("plaintext differs from %s:\n%q", realPlaintextPath, got)
	}
	if h.SystemTitle.String() != "534147677001BD54" || h.FrameCounter != 0x0005A8E3 || h.Length != 0x027A {
		t.Errorf("header = %s counter %#x length %#x", h.SystemTitle, h.FrameCounter, h.Length)
	}
	if h.frameSize() != len(frame) || h.ciphertextSize() != len(want) {
		t.Errorf("FrameSize %d CiphertextSize %d, want %d and %d", h.frameSize(), h.ciphertextSize(), len(frame), len(want))
	}
}

// Sealing the real plaintext with the real key, system title and counter
// gives back the meter's frame, byte for byte: the encryptor is the exact
// inverse of what the meter does.
func TestSealReproducesRealFrame(t *testing.T) {
	frame := readFile(t, realFramePath)
	h, err := parseHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	got := realCipher(t).Seal(nil, h.SystemTitle, h.FrameCounter, readFile(t, realPlaintextPath))
	if !bytes.Equal(got, frame) {
		t.Fatalf("Seal gave\n%x\nwant\n%x", got, frame)
	}
}

func TestOpenErrors(t *testing.T) {
	plaintext := readFile(t, realPlaintextPath)
	good := NewCipher(otherKey, austrianAK).Seal(nil, testTitle, 7, plaintext)
	flipped := bytes.Clone(good)
	flipped[100] ^= 0x10
	tests := []struct {
		name   string
		cipher *Cipher
		frame  []byte
		want   error
		says   string
	}{
		{"right keys", NewCipher(otherKey, austrianAK), good, nil, ""},
		{"wrong key", NewCipher(realKey(t), austrianAK), good, ErrAuth, "wrong key"},
		{"wrong authentication key", NewCipher(otherKey, LuxembourgAuthKey), good, ErrAuth, "another authentication key"},
		{"flipped bit", NewCipher(otherKey, austrianAK), flipped, ErrAuth, "damaged"},
		{"truncated", NewCipher(otherKey, austrianAK), good[:len(good)-1], ErrTruncated, "announces"},
		{"header only", NewCipher(otherKey, austrianAK), good[:12], ErrTruncated, "not a whole frame header"},
		{"not a frame", NewCipher(otherKey, austrianAK), plaintext, ErrHeader, "not 0xDB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := tt.cipher.openFrame(nil, tt.frame)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.says) {
					t.Errorf("error %q does not say %q", err, tt.says)
				}
				return
			}
			if !bytes.Equal(got, plaintext) {
				t.Errorf("plaintext differs")
			}
		})
	}
}

// With the wrong authentication key the tag fails, but the counter-mode
// decryption still gives the telegram back.
func TestOpenUnauthenticated(t *testing.T) {
	plaintext := readFile(t, specTelegramPath)
	frame := NewCipher(otherKey, austrianAK).Seal(nil, testTitle, 99, plaintext)
	c := NewCipher(otherKey, LuxembourgAuthKey)
	if _, _, err := c.openFrame(nil, frame); !errors.Is(err, ErrAuth) {
		t.Fatalf("Open with the default AK: err = %v, want ErrAuth", err)
	}
	got, h, err := c.openUnauthenticated([]byte("prefix"), frame)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append([]byte("prefix"), plaintext...)) || h.FrameCounter != 99 {
		t.Fatalf("OpenUnauthenticated gave %q (counter %d)", got, h.FrameCounter)
	}
	// With the wrong key it gives noise, of the right length.
	noise, _, err := NewCipher(realKey(t), austrianAK).openUnauthenticated(nil, frame)
	if err != nil || len(noise) != len(plaintext) || bytes.Equal(noise, plaintext) {
		t.Fatalf("wrong key: err %v, len %d", err, len(noise))
	}
}

// Seal and Open are inverses for every length, across the three A-XDR
// length forms.
func TestSealOpenRoundTrip(t *testing.T) {
	c := NewCipher(otherKey, austrianAK)
	for n := 1; n < 700; n += 7 {
		plaintext := bytes.Repeat([]byte{byte(n)}, n)
		frame := c.Seal(nil, testTitle, uint32(n), plaintext)
		h, err := parseHeader(frame)
		if err != nil {
			t.Fatalf("len %d: %v", n, err)
		}
		wantForm := map[bool]byte{true: 0x82}[h.Length > 0xFF]
		if h.Length > 0x7F && h.Length <= 0xFF {
			wantForm = 0x81
		}
		if wantForm != 0 && frame[10] != wantForm || wantForm == 0 && frame[10] >= 0x80 {
			t.Fatalf("len %d: length form %#x for length %d", n, frame[10], h.Length)
		}
		got, _, err := c.openFrame(nil, frame)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("len %d: round trip failed: %v", n, err)
		}
	}
}

func TestParseHeader(t *testing.T) {
	real := readFile(t, realFramePath)
	mod := func(i int, v byte) []byte {
		b := bytes.Clone(real)
		b[i] = v
		return b
	}
	tests := []struct {
		name  string
		in    []byte
		want  error
		says  string
		count uint32
	}{
		{"real", real, nil, "", 0x0005A8E3},
		{"wrong tag", mod(0, 0xDC), ErrHeader, "not 0xDB", 0},
		{"system title length 9", mod(1, 9), ErrHeader, "system title length is 9", 0},
		{"length form 0x80", mod(10, 0x80), ErrHeader, "not a valid A-XDR length", 0},
		{"length form 0x83", mod(10, 0x83), ErrHeader, "not a valid A-XDR length", 0},
		{"security byte 0x20", mod(13, 0x20), ErrHeader, "security control byte", 0},
		{"length 0", append(append([]byte{}, real[:11]...), append([]byte{0, 0}, real[13:]...)...), ErrHeader, "length field 0 is too small", 0},
		{"short form length 1", append(append([]byte{}, real[:10]...), append([]byte{1}, real[13:]...)...), ErrHeader, "length field 1 is too small", 0},
		{"one byte", real[:1], ErrTruncated, "1 bytes", 0},
		{"cut in the counter", real[:16], ErrTruncated, "16 bytes", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseHeader(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseHeader error = %v, want %v", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
			if err == nil && h.FrameCounter != tt.count {
				t.Errorf("frame counter %#x, want %#x", h.FrameCounter, tt.count)
			}
		})
	}
}
