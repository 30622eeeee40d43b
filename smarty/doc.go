// Package smarty reads the P1 port of Luxembourg's "Smarty" smart meter
// (Sagemcom T210-D) and of the meters that share its format.
//
// Every 10 seconds the meter sends a DSMR telegram, a few hundred bytes of
// text listing its readings. Smarty meters encrypt it with AES-128-GCM under
// a key the grid operator gives the meter's owner, and wrap it in a DLMS
// envelope:
//
//	DB 08 <system title, 8 bytes> 82 <length, 2 bytes> 30 <frame counter, 4 bytes>
//	<ciphertext> <tag, 12 bytes>
//
// A Reader finds those envelopes, and plain telegrams too, in any byte
// stream, decrypts them with a Cipher and parses the telegram inside with
// package dsmr:
//
//	key, err := smarty.ParseKey("AE BD 21 ...") // 32 hex digits from Creos
//	if err != nil { ... }
//	r := smarty.NewReader(port, smarty.NewCipher(key, smarty.LuxembourgAuthKey))
//	for {
//		m, err := r.Next()
//		var fe *smarty.FrameError
//		if errors.As(err, &fe) {
//			log.Print(err) // one bad frame, skipped; go on
//			continue
//		}
//		if err != nil {
//			return err // the port failed, or io.EOF at the end of a dump
//		}
//		kWh, _ := m.Telegram.EnergyImport()
//		fmt.Println(m.Header.FrameCounter, kWh)
//	}
//
// The Reader takes any [io.Reader]: a serial port, a TCP connection to a
// network P1 adapter, a file with a captured dump, a test's
// [bytes.Reader]. Package smarty is the protocol only: it opens no device
// (package [github.com/NEXXTLAB/go-smarty-reader/smarty/p1] does, and
// keeps a meter's stream alive across unplugged cables), does not log,
// exit or read flags; it returns values and errors, and a bad frame never
// stops the next good one from being read. [FrameError.Failure] names the
// class of each bad frame for counters and summaries.
package smarty
