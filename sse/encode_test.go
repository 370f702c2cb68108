package sse

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestAppendEvent(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"data only", Event{Data: "hi"}, "data: hi\n\n"},
		{"all fields", Event{ID: "7", Type: "tick", Data: "x", Retry: 1500 * time.Millisecond},
			"retry: 1500\nid: 7\nevent: tick\ndata: x\n\n"},
		{"empty data still dispatches", Event{}, "data:\n\n"},
		{"LF splits lines", Event{Data: "a\nb"}, "data: a\ndata: b\n\n"},
		{"CR and CRLF split lines", Event{Data: "a\rb\r\nc"}, "data: a\ndata: b\ndata: c\n\n"},
		{"trailing line break", Event{Data: "a\n"}, "data: a\ndata:\n\n"},
		{"blank line cannot dispatch early", Event{Data: "a\n\nevent: x"}, "data: a\ndata:\ndata: event: x\n\n"},
		{"leading space kept", Event{Data: " x"}, "data:  x\n\n"},
		{"leading colon kept", Event{Data: ":x"}, "data: :x\n\n"},
		{"NUL in data is fine", Event{Data: "a\x00b"}, "data: a\x00b\n\n"},
		{"sub-millisecond retry rounds down", Event{Data: "x", Retry: time.Microsecond}, "retry: 0\ndata: x\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendEvent([]byte("prefix|"), tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if want := "prefix|" + tt.want; string(got) != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestAppendEventRefusesInjection(t *testing.T) {
	for _, bad := range []string{"a\nb", "a\rb", "a\r\nb", "a\x00b", "\n"} {
		dst := []byte("keep")
		got, err := AppendEvent(dst, Event{ID: bad, Data: "x"})
		if !errors.Is(err, ErrInvalidID) || string(got) != "keep" {
			t.Errorf("ID %q: got %q, %v; want dst unchanged and ErrInvalidID", bad, got, err)
		}
		got, err = AppendEvent(dst, Event{Type: bad, Data: "x"})
		if !errors.Is(err, ErrInvalidEventType) || string(got) != "keep" {
			t.Errorf("Type %q: got %q, %v; want dst unchanged and ErrInvalidEventType", bad, got, err)
		}
	}
}

func TestAppendEventDoesNotAllocate(t *testing.T) {
	ev := Event{ID: "12345", Type: "tick", Data: "{\"seq\":12345}\nsecond line", Retry: time.Second}
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = AppendEvent(buf[:0], ev)
	})
	if allocs != 0 {
		t.Errorf("AppendEvent allocated %v times per call, want 0", allocs)
	}
}

func TestAppendComment(t *testing.T) {
	tests := map[string]string{
		"":           ":\n",
		"keep-alive": ": keep-alive\n",
		"a\nb\r\nc":  ": a\n: b\n: c\n",
	}
	for text, want := range tests {
		if got := AppendComment(nil, text); string(got) != want {
			t.Errorf("AppendComment(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestAppendRetry(t *testing.T) {
	tests := map[time.Duration]string{
		3 * time.Second:         "retry: 3000\n\n",
		1500 * time.Microsecond: "retry: 1\n\n",
		0:                       "retry: 0\n\n",
		-time.Second:            "retry: 0\n\n",
	}
	for d, want := range tests {
		if got := AppendRetry(nil, d); string(got) != want {
			t.Errorf("AppendRetry(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestEncoder(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	if err := enc.Retry(time.Second); err != nil {
		t.Fatal(err)
	}
	if err := enc.Comment("hello"); err != nil {
		t.Fatal(err)
	}
	if err := enc.Encode(Event{ID: "1", Data: "one"}); err != nil {
		t.Fatal(err)
	}
	if err := enc.Encode(Event{ID: "bad\n", Data: "never written"}); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("got %v, want ErrInvalidID", err)
	}
	if err := enc.Encode(Event{Data: "two"}); err != nil {
		t.Fatal(err)
	}
	want := "retry: 1000\n\n: hello\nid: 1\ndata: one\n\ndata: two\n\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestEncoderWriteError(t *testing.T) {
	boom := errors.New("boom")
	if err := NewEncoder(failWriter{boom}).Encode(Event{Data: "x"}); !errors.Is(err, boom) {
		t.Errorf("got %v, want %v", err, boom)
	}
}
