package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"time"
)

// Default limits of a Reader. A browser has none, but a Go program reading
// from an untrusted server should not let one endless line or one endless
// event eat all its memory.
const (
	DefaultMaxLineSize  = 1 << 20 // 1 MiB
	DefaultMaxEventSize = 4 << 20 // 4 MiB
)

// ErrLineTooLong is returned by Reader.Next when a line exceeds
// Reader.MaxLineSize.
var ErrLineTooLong = errors.New("sse: line too long")

// ErrEventTooLarge is returned by Reader.Next when the data of one event
// exceeds Reader.MaxEventSize.
var ErrEventTooLarge = errors.New("sse: event too large")

// Reader parses a text/event-stream following the WHATWG HTML rules for
// "interpreting an event stream", so it sees exactly the events a browser's
// EventSource would fire, including for malformed input:
//
//   - one leading byte order mark (U+FEFF) is skipped;
//   - lines end with CRLF, a lone LF or a lone CR;
//   - invalid UTF-8 is replaced by U+FFFD;
//   - lines starting with ':' are comments; unknown fields are ignored;
//   - "name:value" with one space after the colon stripped, or just "name"
//     (a field with an empty value);
//   - an event that is not ended by a blank line when the stream ends is
//     discarded.
//
// A Reader must be created with NewReader. It is not safe for concurrent use.
type Reader struct {
	// MaxLineSize bounds the length of one line, without its line break.
	// Set it before the first call to Next; <= 0 means DefaultMaxLineSize.
	MaxLineSize int
	// MaxEventSize bounds the data of one event. Set it before the first
	// call to Next; <= 0 means DefaultMaxEventSize.
	MaxEventSize int

	br      *bufio.Reader
	line    []byte // current line, reused
	started bool   // the first line (which may start with a BOM) was read
	skipLF  bool   // the last line ended with CR: an LF right after it belongs to it
	err     error  // sticky: once Next failed it keeps failing the same way

	// The parser state the spec calls buffers.
	data      []byte // data buffer
	eventType string // event type buffer
	idBuffer  string // last event ID buffer: set by "id:" lines
	lastID    string // last event ID string: idBuffer as of the last blank line
	retry     time.Duration
	retrySet  bool
}

// NewReader returns a Reader that parses the stream read from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{
		MaxLineSize:  DefaultMaxLineSize,
		MaxEventSize: DefaultMaxEventSize,
		br:           bufio.NewReader(r),
	}
}

// Next returns the next dispatched event. It returns io.EOF when the stream
// ends cleanly (a trailing event without its blank line is dropped, as the
// spec requires), ErrLineTooLong or ErrEventTooLarge when a limit is hit,
// and otherwise the error of the underlying reader. After an error every
// later call returns the same error.
func (r *Reader) Next() (Event, error) {
	for r.err == nil {
		line, err := r.readLine()
		if err != nil {
			r.err = err
			break
		}
		ev, ok, err := r.processLine(line)
		if err != nil {
			r.err = err
			break
		}
		if ok {
			return ev, nil
		}
	}
	return Event{}, r.err
}

// LastEventID returns the stream's last event ID string: the value a
// reconnecting client sends as Last-Event-ID. As in EventSource, an "id:"
// line only takes effect when its block ends with a blank line, even if
// the block carries no data.
func (r *Reader) LastEventID() string {
	return r.lastID
}

// SetLastEventID seeds the last event ID. A reconnecting client calls it
// with the ID it remembered from the previous connection, so that events
// arriving without an "id:" field still report it, as they do in a browser
// (the EventSource keeps its last event ID across reconnections).
func (r *Reader) SetLastEventID(id string) {
	r.idBuffer, r.lastID = id, id
}

// Retry returns the reconnection time from the latest valid "retry:" field,
// and false if none was seen yet. Unlike ids, retry takes effect at once.
func (r *Reader) Retry() (time.Duration, bool) {
	return r.retry, r.retrySet
}

// processLine applies one line to the parser state and reports whether it
// dispatched an event.
func (r *Reader) processLine(line []byte) (Event, bool, error) {
	if len(line) == 0 {
		ev, ok := r.dispatch()
		return ev, ok, nil
	}
	if line[0] == ':' {
		return Event{}, false, nil // comment
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		value = bytes.TrimPrefix(value, []byte(" "))
	}
	// Field names are case-sensitive: "Data" is an unknown field.
	switch string(name) {
	case "event":
		r.eventType = string(value)
	case "data":
		if len(r.data)+len(value)+1 > r.maxEventSize() {
			return Event{}, false, ErrEventTooLarge
		}
		r.data = append(r.data, value...)
		r.data = append(r.data, '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 && string(value) != r.idBuffer {
			r.idBuffer = string(value)
		}
	case "retry":
		if ms, ok := parseDigits(value); ok {
			r.retry, r.retrySet = ms, true
		}
	}
	return Event{}, false, nil
}

// dispatch runs the spec's "dispatch the event" steps at a blank line.
func (r *Reader) dispatch() (Event, bool) {
	r.lastID = r.idBuffer
	if len(r.data) == 0 {
		r.eventType = ""
		return Event{}, false
	}
	ev := Event{
		ID:   r.lastID,
		Type: r.eventType,
		Data: string(r.data[:len(r.data)-1]), // drop the LF after the last line
	}
	if ev.Type == "" {
		ev.Type = "message"
	}
	r.data, r.eventType = r.data[:0], ""
	return ev, true
}

// parseDigits turns a retry value into a duration. The spec accepts only
// ASCII digits: "10a", " 10", "-1", "1.5" and "" are all ignored. Values too
// large for a time.Duration are clamped.
func parseDigits(value []byte) (time.Duration, bool) {
	if len(value) == 0 {
		return 0, false
	}
	const maxMs = math.MaxInt64 / int64(time.Millisecond)
	var ms int64
	for _, c := range value {
		if c < '0' || c > '9' {
			return 0, false
		}
		ms = min(ms*10+int64(c-'0'), maxMs+1) // cannot overflow: ms <= maxMs+1 before
	}
	if ms > maxMs {
		return math.MaxInt64, true
	}
	return time.Duration(ms) * time.Millisecond, true
}

// readLine returns the next line without its line break, decoded as UTF-8
// (invalid bytes replaced). The result is valid until the next call.
//
// It never waits for input it does not need: after a CR it does not peek
// for an LF (which could block until the server sends more) but remembers
// to drop an LF that arrives first on the next call.
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		if r.br.Buffered() == 0 {
			if _, err := r.br.Peek(1); err != nil { // waits for more input
				return nil, err // a partial line at EOF is dropped with it
			}
		}
		buf, _ := r.br.Peek(r.br.Buffered())
		if r.skipLF {
			r.skipLF = false
			if buf[0] == '\n' {
				r.br.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(buf, "\r\n")
		n := i
		if i < 0 {
			n = len(buf)
		}
		if len(r.line)+n > r.maxLineSize() {
			return nil, ErrLineTooLong
		}
		r.line = append(r.line, buf[:n]...)
		if i < 0 {
			r.br.Discard(n)
			continue
		}
		r.skipLF = buf[i] == '\r'
		r.br.Discard(i + 1)
		return r.decode(), nil
	}
}

// decode strips the byte order mark from the first line and repairs
// invalid UTF-8. Decoding line by line gives the same result as decoding
// the whole stream because CR and LF never belong to a multi-byte sequence.
func (r *Reader) decode() []byte {
	line := r.line
	if !r.started {
		r.started = true
		line = bytes.TrimPrefix(line, []byte("\uFEFF"))
	}
	return validUTF8(line)
}

func (r *Reader) maxLineSize() int {
	if r.MaxLineSize <= 0 {
		return DefaultMaxLineSize
	}
	return r.MaxLineSize
}

func (r *Reader) maxEventSize() int {
	if r.MaxEventSize <= 0 {
		return DefaultMaxEventSize
	}
	return r.MaxEventSize
}
