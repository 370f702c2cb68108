package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

const tickTime = "2024-01-02T03:04:05.678Z"

// decodeStrict decodes one message and fails on fields Message does not
// know, so that an encoder that writes a misspelt key is caught.
func decodeStrict(t *testing.T, b []byte) Message {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("not valid JSON: %s", b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Message
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func TestAppendTick(t *testing.T) {
	for _, seq := range []int64{0, 1, 42, 1<<53 + 1, -7} {
		b := AppendTick(nil, seq, tickTime)
		got := decodeStrict(t, b)
		want := Message{Type: TypeTick, Seq: seq, Time: tickTime}
		if got != want {
			t.Errorf("AppendTick(%d) = %s, decodes to %+v, want %+v", seq, b, got, want)
		}
		// seq is present even when it is 0 (Encode would omit it).
		if !bytes.Contains(b, []byte(`"seq":`)) {
			t.Errorf("AppendTick(%d) = %s has no seq field", seq, b)
		}
	}
}

func TestAppendTickAppends(t *testing.T) {
	dst := []byte("prefix|")
	b := AppendTick(dst, 7, tickTime)
	const want = `prefix|{"type":"tick","seq":7,"time":"` + tickTime + `"}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}

func TestAppendTickAllocatesNothing(t *testing.T) {
	dst := make([]byte, 0, 128)
	allocs := testing.AllocsPerRun(1000, func() {
		dst = AppendTick(dst[:0], 1732500000123, tickTime)
	})
	if allocs != 0 {
		t.Fatalf("AppendTick allocates %v times per call with a big enough dst, want 0", allocs)
	}
	if got := decodeStrict(t, dst); got.Seq != 1732500000123 {
		t.Fatalf("after the runs dst decodes to %+v", got)
	}
}

func TestAppendGap(t *testing.T) {
	b := AppendGap([]byte{}, 10, 2000)
	got := decodeStrict(t, b)
	want := Message{Type: TypeGap, From: 10, To: 2000}
	if got != want {
		t.Fatalf("AppendGap = %s, decodes to %+v, want %+v", b, got, want)
	}
	// from 0 must still be on the wire.
	if b := AppendGap(nil, 0, 3); string(b) != `{"type":"gap","from":0,"to":3}` {
		t.Fatalf("AppendGap(0, 3) = %s", b)
	}
}

func TestIsTick(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
		want bool
	}{
		{"AppendTick", AppendTick(nil, 5, tickTime), true},
		{"AppendTick seq 0", AppendTick(nil, 0, tickTime), true},
		{"Encode tick", Encode(Message{Type: TypeTick, Seq: 5, Time: tickTime}), true},
		{"hello", Encode(Message{Type: TypeHello, Client: "c1"}), false},
		{"echo", Encode(Message{Type: TypeEcho, Text: "hi"}), false},
		{"echo quoting a tick", Encode(Message{Type: TypeEcho, Text: string(AppendTick(nil, 1, tickTime))}), false},
		{"error", Encode(Message{Type: TypeError, Text: "no"}), false},
		{"gap", AppendGap(nil, 1, 2), false},
		{"prefix cut short", AppendTick(nil, 5, tickTime)[:len(tickPrefix)-1], false},
		{"type only", []byte(`{"type":"tick"`), false},
		{"empty", []byte{}, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := IsTick(tt.msg); got != tt.want {
			t.Errorf("%s: IsTick(%q) = %v, want %v", tt.name, tt.msg, got, tt.want)
		}
	}
}

func TestDecodeChat(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		text     string
		is       error // errors.Is target
		isNot    []error
		malform  bool // a decode error: neither ErrUnknownType nor ErrEmptyChat
		isSyntax bool // wraps *json.SyntaxError
	}{
		{name: "chat", in: `{"type":"chat","text":"hello"}`, text: "hello"},
		{name: "chat with spaces and unknown fields", in: ` { "text" : "hé <b>", "type" : "chat", "extra": [1] } `, text: "hé <b>"},
		{name: "escaped text", in: `{"type":"chat","text":"a\nb\u0022"}`, text: "a\nb\""},
		{name: "empty text", in: `{"type":"chat","text":""}`, is: ErrEmptyChat},
		{name: "missing text", in: `{"type":"chat"}`, is: ErrEmptyChat},
		{name: "null text", in: `{"type":"chat","text":null}`, is: ErrEmptyChat},
		{name: "unknown type", in: `{"type":"shout","text":"x"}`, is: ErrUnknownType},
		{name: "server type from client", in: `{"type":"tick","seq":1}`, is: ErrUnknownType},
		{name: "missing type", in: `{"text":"x"}`, is: ErrUnknownType},
		{name: "type case matters", in: `{"type":"Chat","text":"x"}`, is: ErrUnknownType},
		{name: "truncated", in: `{"type":"chat","text":"x`, malform: true, isSyntax: true},
		{name: "not JSON", in: `chat: hello`, malform: true, isSyntax: true},
		{name: "trailing garbage", in: `{"type":"chat","text":"x"} {}`, malform: true, isSyntax: true},
		{name: "empty input", in: ``, malform: true},
		{name: "array", in: `[{"type":"chat","text":"x"}]`, malform: true},
		{name: "string", in: `"chat"`, malform: true},
		{name: "number", in: `42`, malform: true},
		{name: "null", in: `null`, malform: true},
		{name: "text of wrong type", in: `{"type":"chat","text":42}`, malform: true},
		{name: "type of wrong type", in: `{"type":["chat"],"text":"x"}`, malform: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := DecodeChat([]byte(tt.in))
			switch {
			case tt.is != nil:
				if !errors.Is(err, tt.is) {
					t.Fatalf("DecodeChat(%s) = %q, %v; want error %v", tt.in, text, err, tt.is)
				}
			case tt.malform:
				if err == nil || errors.Is(err, ErrUnknownType) || errors.Is(err, ErrEmptyChat) {
					t.Fatalf("DecodeChat(%s) = %q, %v; want a malformed-message error", tt.in, text, err)
				}
				var se *json.SyntaxError
				if tt.isSyntax && !errors.As(err, &se) {
					t.Errorf("DecodeChat(%s) error %v does not wrap *json.SyntaxError", tt.in, err)
				}
			default:
				if err != nil || text != tt.text {
					t.Fatalf("DecodeChat(%s) = %q, %v; want %q, nil", tt.in, text, err, tt.text)
				}
				return
			}
			if text != "" {
				t.Errorf("DecodeChat(%s) returned text %q with an error", tt.in, text)
			}
		})
	}
}

func TestEncodeWireFormat(t *testing.T) {
	tests := []struct {
		m    Message
		want string
	}{
		{Message{Type: TypeHello, Client: "c-1"}, `{"type":"hello","client":"c-1"}`},
		{Message{Type: TypeEcho, Text: "hi"}, `{"type":"echo","text":"hi"}`},
		{Message{Type: TypeError, Text: "no"}, `{"type":"error","text":"no"}`},
		{Message{Type: TypeChat, Text: "yo"}, `{"type":"chat","text":"yo"}`},
	}
	for _, tt := range tests {
		if got := Encode(tt.m); string(got) != tt.want {
			t.Errorf("Encode(%+v) = %s, want %s", tt.m, got, tt.want)
		}
	}
}

func TestEncodeEscapes(t *testing.T) {
	texts := []string{
		`</script><script>alert("x")</script>`,
		"line one\nline two\r\nthree",
		`quote " backslash \ slash /`,
		"tab\tnul\x00bell\a",
		"separators \u2028 \u2029 & <>",
		"unicode: héllo, 世界, 🎉",
		`{"type":"tick","seq":1}`,
	}
	for _, text := range texts {
		b := Encode(Message{Type: TypeEcho, Text: text})
		if bytes.ContainsAny(b, "<>&\n\r\t\x00") || bytes.Contains(b, []byte("\u2028")) || bytes.Contains(b, []byte("\u2029")) {
			t.Errorf("Encode(%q) = %s leaves a raw character that is unsafe in HTML or a line-based log", text, b)
		}
		if !utf8.Valid(b) {
			t.Errorf("Encode(%q) is not valid UTF-8", text)
		}
		got := decodeStrict(t, b)
		if got.Type != TypeEcho || got.Text != text {
			t.Errorf("Encode(%q) = %s, round-trips to %+v", text, b, got)
		}
		// What a client sends as chat comes back intact through DecodeChat.
		c, err := DecodeChat(Encode(Message{Type: TypeChat, Text: text}))
		if err != nil || c != text {
			t.Errorf("DecodeChat(Encode(chat %q)) = %q, %v", text, c, err)
		}
	}
}
