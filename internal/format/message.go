package format

import "github.com/NEXXTLAB/go-smarty-reader/smarty"

// EnvelopeOf returns the envelope of a message read by a smarty.Reader, nil
// for a plain telegram.
func EnvelopeOf(m *smarty.Message) *Envelope {
	if !m.Encrypted {
		return nil
	}
	return &Envelope{SystemTitle: m.Header.SystemTitle, FrameCounter: m.Header.FrameCounter}
}

// AppendMessage is AppendJSON for a message read by a smarty.Reader: the
// system title and frame counter are included when it was encrypted.
func AppendMessage(dst []byte, m *smarty.Message) []byte {
	if !m.Encrypted {
		return AppendJSON(dst, &m.Telegram, nil)
	}
	env := Envelope{SystemTitle: m.Header.SystemTitle, FrameCounter: m.Header.FrameCounter}
	return AppendJSON(dst, &m.Telegram, &env)
}

// WriteMessage writes a message read by a smarty.Reader.
func (w *Writer) WriteMessage(m *smarty.Message) error {
	if !m.Encrypted {
		return w.Write(&m.Telegram, nil)
	}
	env := Envelope{SystemTitle: m.Header.SystemTitle, FrameCounter: m.Header.FrameCounter}
	return w.Write(&m.Telegram, &env)
}
