package ws

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeChat feeds arbitrary client messages to the decoder the server
// uses on every WebSocket message. It must never panic, every error must be
// one the handler knows how to answer (1003, 1007 or an "error" message),
// and an accepted chat must survive being echoed: encoded and decoded again
// it is the same text (with invalid UTF-8 replaced, as JSON requires).
func FuzzDecodeChat(f *testing.F) {
	for _, seed := range []string{
		`{"type":"chat","text":"hi"}`,
		`{"type":"chat","text":""}`,
		`{"type":"chat"}`,
		`{"type":"shout","text":"hi"}`,
		`{"type":"chat","text":"<img src=x onerror=alert(1)>"}`,
		`{"type":"chat","text":"a\nb\u0000c\u2028"}`,
		`{"type":"chat","text":123}`,
		`null`, `[]`, `"chat"`, `{`, ``, `{"type":"chat","text":"\ud800"}`,
		`{"type":"chat","text":"x","type":"tick"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text, err := DecodeChat(data)
		if err != nil {
			if !errors.Is(err, ErrUnknownType) && !errors.Is(err, ErrEmptyChat) &&
				!strings.HasPrefix(err.Error(), "ws: malformed message") {
				t.Fatalf("DecodeChat(%q): error %v is none the handler maps to a close code", data, err)
			}
			return
		}
		if text == "" {
			t.Fatalf("DecodeChat(%q) accepted an empty chat", data)
		}
		if !utf8.ValidString(text) {
			t.Fatalf("DecodeChat(%q) returned invalid UTF-8 %q", data, text)
		}
		again, err := DecodeChat(Encode(Message{Type: TypeChat, Text: text}))
		if err != nil || again != text {
			t.Fatalf("chat %q did not survive an echo: %q, %v", text, again, err)
		}
	})
}
