package sse

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

// hostile are events whose data, id or type try to break the framing. They
// are the round-trip table below and the seed corpus of FuzzRoundTrip.
var hostile = []Event{
	{Data: "plain"},
	{Data: ""},
	{Data: "a\n\nevent: x"},
	{Data: "a\n\ndata: injected\n\n"},
	{Data: "lone\rCR"},
	{Data: "CR\r\nLF"},
	{Data: "\r\n"},
	{Data: "\n\n\n"},
	{Data: "trailing CR\r"},
	{Data: "NUL\x00inside"},
	{Data: "\uFEFFstarts with a BOM"},
	{Data: " starts with a space"},
	{Data: ": starts with a colon"},
	{Data: "id: 666"},
	{Data: "invalid \xff\xe2\x82 UTF-8"},
	{ID: "42", Type: "tick", Data: "{\"seq\":42}", Retry: 2 * time.Second},
	{ID: " spaced id ", Type: " spaced type "},
	{ID: "id: 1", Type: "event: x", Data: "data: y"},
	{Type: "message", Data: "explicit default type"},
	{ID: "bad\nid"},
	{ID: "bad\x00id"},
	{Type: "bad\rtype"},
}

// checkRoundTrip encodes ev followed by a sentinel event and parses the
// result: it must give back ev, then the sentinel untouched (proof that ev
// left nothing pending that could leak into the next event).
//
// The rule for input the wire cannot carry as is: CR and CRLF in Data come
// back as LF, and invalid UTF-8 anywhere comes back repaired exactly as a
// browser repairs it (validUTF8). Refused ids and types must be refused.
func checkRoundTrip(t *testing.T, ev Event) {
	t.Helper()
	frame, err := AppendEvent(nil, ev)
	if !safeValue(ev.ID) || !safeValue(ev.Type) {
		if !errors.Is(err, ErrInvalidID) && !errors.Is(err, ErrInvalidEventType) {
			t.Fatalf("AppendEvent(%q) = %v, want a refusal", ev, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("AppendEvent(%q): %v", ev, err)
	}
	sentinel := Event{Data: "sentinel"}
	frame, _ = AppendEvent(frame, sentinel)

	want := Event{
		ID:   repaired(ev.ID),
		Type: repaired(ev.Type),
		Data: strings.ReplaceAll(strings.ReplaceAll(repaired(ev.Data), "\r\n", "\n"), "\r", "\n"),
	}
	if want.Type == "" {
		want.Type = "message"
	}
	r := NewReader(bytes.NewReader(frame))
	got, err := readAll(r)
	if err != io.EOF {
		t.Fatalf("reading %q: %v", frame, err)
	}
	// The sentinel has no id: of its own, so it inherits ev's.
	wantAll := []Event{want, {ID: want.ID, Type: "message", Data: "sentinel"}}
	if !slices.Equal(got, wantAll) {
		t.Fatalf("round trip of %q via %q:\n got %q\nwant %q", ev, frame, got, wantAll)
	}
	retry, ok := r.Retry()
	if ev.Retry > 0 && (!ok || retry != ev.Retry.Truncate(time.Millisecond)) {
		t.Errorf("Retry() = %v, %v; want %v", retry, ok, ev.Retry.Truncate(time.Millisecond))
	}
	if ev.Retry <= 0 && ok {
		t.Errorf("Retry() = %v, want none", retry)
	}
}

func repaired(s string) string { return string(validUTF8([]byte(s))) }

func TestRoundTrip(t *testing.T) {
	for _, ev := range hostile {
		t.Run("", func(t *testing.T) { checkRoundTrip(t, ev) })
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, ev := range hostile {
		f.Add(ev.ID, ev.Type, ev.Data, uint32(ev.Retry.Milliseconds()))
	}
	f.Fuzz(func(t *testing.T, id, typ, data string, retryMillis uint32) {
		checkRoundTrip(t, Event{ID: id, Type: typ, Data: data, Retry: time.Duration(retryMillis) * time.Millisecond})
	})
}

// FuzzReader feeds arbitrary bytes to the parser. It must not panic, must
// give the same events however the input is split into reads, must never
// produce an id or type with a line break, and everything it produces must
// survive being encoded and parsed again.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"data: YHOO\ndata: +2\ndata: 10\n\n",
		": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
		"data\n\ndata\ndata\n\ndata:",
		"\uFEFFevent: x\r\nid: 1\rretry: 10\r\n\r\ndata: \xff\n\n",
		"id: a\x00b\nevent: \x00\ndata\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := NewReader(bytes.NewReader(stream))
		evs, err := readAll(r)
		if err != io.EOF {
			t.Fatalf("error %v, want io.EOF", err)
		}
		r1 := NewReader(iotest.OneByteReader(bytes.NewReader(stream)))
		evs1, _ := readAll(r1)
		if !slices.Equal(evs, evs1) || r.LastEventID() != r1.LastEventID() {
			t.Fatalf("read whole: %q; one byte at a time: %q", evs, evs1)
		}
		for _, ev := range evs {
			if strings.ContainsAny(ev.ID, "\r\n\x00") || strings.ContainsAny(ev.Type, "\r\n") {
				t.Fatalf("event with a line break in its id or type: %q", ev)
			}
			if ev.Type == "" || !utf8.ValidString(ev.ID+ev.Type+ev.Data) || strings.Contains(ev.Data, "\r") {
				t.Fatalf("malformed event %q", ev)
			}
			if safeValue(ev.Type) { // a type may hold NUL, which the encoder refuses
				checkRoundTrip(t, ev)
			}
		}
	})
}
