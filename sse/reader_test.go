package sse

import (
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// readAll returns every event r dispatches and the error that ended it.
func readAll(r *Reader) ([]Event, error) {
	var evs []Event
	for {
		ev, err := r.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

// chunkings feed the same stream in differently sized reads: a parser must
// not care where the reads split lines, or a CRLF.
var chunkings = map[string]func(io.Reader) io.Reader{
	"whole":    func(r io.Reader) io.Reader { return r },
	"one byte": iotest.OneByteReader,
	"half":     iotest.HalfReader,
	"data+EOF": iotest.DataErrReader,
}

// msg is a decoded event of the default type.
func msg(id, data string) Event { return Event{ID: id, Type: "message", Data: data} }

func TestReader(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   []Event
		lastID string // LastEventID() at the end
	}{
		// The examples of the WHATWG "Server-sent events" section.
		{"spec: stock ticker", "data: YHOO\ndata: +2\ndata: 10\n\n",
			[]Event{msg("", "YHOO\n+2\n10")}, ""},
		{"spec: test stream", ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
			[]Event{msg("1", "first event"), msg("", "second event"), msg("", " third event")}, ""},
		{"spec: test stream without final blank line", "data: first event\nid: 1\n\ndata:  third event\n",
			[]Event{msg("1", "first event")}, "1"},
		{"spec: empty data", "data\n\ndata\ndata\n\ndata:",
			[]Event{msg("", ""), msg("", "\n")}, ""},
		{"spec: space after colon is optional", "data:test\n\ndata: test\n\n",
			[]Event{msg("", "test"), msg("", "test")}, ""},
		{"spec: event types", "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
			[]Event{{Type: "add", Data: "73857293"}, {Type: "remove", Data: "2153"}, {Type: "add", Data: "113411"}}, ""},

		// Line endings.
		{"CRLF", "data: a\r\ndata: b\r\n\r\n", []Event{msg("", "a\nb")}, ""},
		{"lone CR", "data: a\rdata: b\r\r", []Event{msg("", "a\nb")}, ""},
		{"mixed", "data: a\r\n\ndata: b\r\rdata: c\n\r\n", []Event{msg("", "a"), msg("", "b"), msg("", "c")}, ""},
		{"CR CR is two line breaks", "data: a\r\r\n", []Event{msg("", "a")}, ""},

		// Fields.
		{"one space stripped, not two", "data:  x\n\n", []Event{msg("", " x")}, ""},
		{"colon in value", "data: a: b\n\n", []Event{msg("", "a: b")}, ""},
		{"space before colon is part of the name", "data : x\n\n", nil, ""},
		{"field names are case-sensitive", "Data: x\nDATA: y\nEvent: e\nID: 1\ndata: z\n\n", []Event{msg("", "z")}, ""},
		{"unknown fields ignored", "foo: bar\nbaz\ndata: z\n\n", []Event{msg("", "z")}, ""},
		{"comments ignored", ":\n: x\n:data: y\ndata: z\n\n", []Event{msg("", "z")}, ""},
		{"NUL in data kept", "data: a\x00b\n\n", []Event{msg("", "a\x00b")}, ""},
		{"type resets after dispatch", "event: x\ndata: 1\n\ndata: 2\n\n",
			[]Event{{Type: "x", Data: "1"}, msg("", "2")}, ""},
		{"type resets without data", "event: x\n\ndata: 1\n\n", []Event{msg("", "1")}, ""},
		{"empty type is message", "event\ndata: 1\n\n", []Event{msg("", "1")}, ""},

		// Last event ID.
		{"id kept across events", "id: 7\ndata: a\n\ndata: b\n\n", []Event{msg("7", "a"), msg("7", "b")}, "7"},
		{"empty id resets", "id: 7\ndata: a\n\nid:\ndata: b\n\n", []Event{msg("7", "a"), msg("", "b")}, ""},
		{"id with NUL ignored", "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", []Event{msg("1", "a"), msg("1", "b")}, "1"},
		{"id without data still commits", "id: 5\n\n", nil, "5"},
		{"id without blank line does not commit", "id: 4\n\nid: 5\ndata: x\n", nil, "4"},
		{"last id field wins", "id: 1\nid: 2\ndata: x\n\n", []Event{msg("2", "x")}, "2"},

		// Encoding.
		{"BOM stripped", "\uFEFFdata: x\n\n", []Event{msg("", "x")}, ""},
		{"only one BOM stripped", "\uFEFF\uFEFFdata: x\n\ndata: y\n\n", []Event{msg("", "y")}, ""},
		{"BOM later is data", "data: \uFEFFx\n\n", []Event{msg("", "\uFEFFx")}, ""},
		{"invalid UTF-8 replaced", "data: \xff\xe2\x82A\n\n", []Event{msg("", "\uFFFD\uFFFDA")}, ""},
		{"invalid UTF-8 in names", "dat\xffa: x\n\nevent: \xc0\ndata: y\n\n", []Event{{Type: "\uFFFD", Data: "y"}}, ""},

		// End of stream.
		{"empty stream", "", nil, ""},
		{"incomplete event discarded", "data: x\n", nil, ""},
		{"incomplete line discarded", "data: x\n\ndata: y", []Event{msg("", "x")}, ""},
	}
	for _, tt := range tests {
		for chunking, wrap := range chunkings {
			t.Run(tt.name+"/"+chunking, func(t *testing.T) {
				r := NewReader(wrap(strings.NewReader(tt.stream)))
				got, err := readAll(r)
				if err != io.EOF {
					t.Errorf("error = %v, want io.EOF", err)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("events:\n got %q\nwant %q", got, tt.want)
				}
				if id := r.LastEventID(); id != tt.lastID {
					t.Errorf("LastEventID() = %q, want %q", id, tt.lastID)
				}
			})
		}
	}
}

func TestReaderRetry(t *testing.T) {
	tests := []struct {
		stream string
		want   time.Duration
		ok     bool
	}{
		{"retry: 1500\n", 1500 * time.Millisecond, true}, // takes effect without a blank line
		{"retry:0\n", 0, true},
		{"retry: 10a\n", 0, false},
		{"retry: -1\n", 0, false},
		{"retry: 1.5\n", 0, false},
		{"retry:  5\n", 0, false}, // the second space is part of the value
		{"retry\n", 0, false},
		{"retry: \n", 0, false},
		{"retry: 10\nretry: x\n", 10 * time.Millisecond, true}, // an invalid value changes nothing
		{"retry: 10\nretry: 20\n", 20 * time.Millisecond, true},
		{"retry: 99999999999999999999999999\n", math.MaxInt64, true}, // clamped
		{"Retry: 10\n", 0, false},
	}
	for _, tt := range tests {
		r := NewReader(strings.NewReader(tt.stream))
		if _, err := readAll(r); err != io.EOF {
			t.Errorf("%q: error %v", tt.stream, err)
		}
		if got, ok := r.Retry(); got != tt.want || ok != tt.ok {
			t.Errorf("%q: Retry() = %v, %v; want %v, %v", tt.stream, got, ok, tt.want, tt.ok)
		}
	}
}

func TestReaderSetLastEventID(t *testing.T) {
	r := NewReader(strings.NewReader("data: a\n\nid: 9\ndata: b\n\n"))
	r.SetLastEventID("5")
	got, _ := readAll(r)
	want := []Event{msg("5", "a"), msg("9", "b")}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReaderLineTooLong(t *testing.T) {
	for chunking, wrap := range chunkings {
		r := NewReader(wrap(strings.NewReader("data: 1234\n\ndata: 12345\n\ndata: ok\n\n")))
		r.MaxLineSize = len("data: 1234")
		ev, err := r.Next()
		if err != nil || ev.Data != "1234" {
			t.Fatalf("%s: a line of exactly MaxLineSize: got %q, %v", chunking, ev.Data, err)
		}
		if _, err := r.Next(); !errors.Is(err, ErrLineTooLong) {
			t.Errorf("%s: got %v, want ErrLineTooLong", chunking, err)
		}
		if _, err := r.Next(); !errors.Is(err, ErrLineTooLong) {
			t.Errorf("%s: error is not sticky: got %v", chunking, err)
		}
	}
	// A line without any line break hits the limit too.
	r := NewReader(strings.NewReader(strings.Repeat("x", 100)))
	r.MaxLineSize = 10
	if _, err := r.Next(); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("unterminated line: got %v, want ErrLineTooLong", err)
	}
}

func TestReaderEventTooLarge(t *testing.T) {
	r := NewReader(strings.NewReader("data: 12\ndata: 34\n\ndata: 12\ndata: 345\n\n"))
	r.MaxEventSize = len("12\n34\n")
	if ev, err := r.Next(); err != nil || ev.Data != "12\n34" {
		t.Fatalf("event of exactly MaxEventSize: got %q, %v", ev.Data, err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Errorf("got %v, want ErrEventTooLarge", err)
	}
}

func TestReaderPassesReadErrors(t *testing.T) {
	boom := errors.New("connection reset")
	r := NewReader(io.MultiReader(strings.NewReader("data: x\n\ndata: y\n"), iotest.ErrReader(boom)))
	if ev, err := r.Next(); err != nil || ev.Data != "x" {
		t.Fatalf("got %q, %v", ev.Data, err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Errorf("got %v, want %v", err, boom)
	}
}

// A stream that ends its lines with CR must not make the reader wait for
// the next byte (to see whether an LF follows) before dispatching.
func TestReaderDoesNotWaitAfterCR(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte("data: x\r\r")) // then nothing more until the test ends

	got := make(chan Event, 1)
	go func() {
		ev, _ := NewReader(pr).Next()
		got <- ev
	}()
	select {
	case ev := <-got:
		if ev.Data != "x" {
			t.Errorf("got %q, want x", ev.Data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next blocked after a CR-terminated blank line")
	}
}
