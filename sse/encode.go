package sse

import (
	"io"
	"strconv"
	"time"
)

// AppendEvent appends the wire form of ev to dst and returns the extended
// buffer. The frame ends with the blank line that dispatches the event, so
// frames can be written back to back.
//
// Fields come in the order retry, id, event, data. Every value is written
// after "name: " (colon and one space) because a parser strips exactly one
// space after the colon: data that itself starts with a space or a colon
// survives unchanged.
//
// AppendEvent does not allocate when dst has enough spare capacity, which is
// what lets a server encode one event once and hand the same bytes to many
// streams (see Stream.WriteFrame). It returns dst unchanged together with
// ErrInvalidID or ErrInvalidEventType when ev could inject fields.
func AppendEvent(dst []byte, ev Event) ([]byte, error) {
	if err := ev.validate(); err != nil {
		return dst, err
	}
	if ev.Retry > 0 {
		dst = appendRetryLine(dst, ev.Retry)
	}
	if ev.ID != "" {
		dst = appendField(dst, "id", ev.ID)
	}
	if ev.Type != "" {
		dst = appendField(dst, "event", ev.Type)
	}
	dst = appendLines(dst, "data", ev.Data)
	return append(dst, '\n'), nil
}

// AppendComment appends text as comment lines (": text"), one per line of
// text. Clients ignore comments; servers send them as heartbeats so that
// proxies see traffic on an idle stream. A comment changes no parser state,
// so it needs no blank line and may go anywhere between frames.
func AppendComment(dst []byte, text string) []byte {
	return appendLines(dst, "", text)
}

// AppendRetry appends a "retry:" field telling clients how long to wait
// before reconnecting, in whole milliseconds (negative durations count as 0).
//
// A blank line follows it. Browsers apply retry: as soon as they parse the
// line, so the blank line changes nothing for them (a blank line with no
// data dispatches nothing); but it closes the block for client libraries
// that only look at fields when a block ends, and it makes the retry a
// self-contained frame like the output of AppendEvent.
func AppendRetry(dst []byte, d time.Duration) []byte {
	return append(appendRetryLine(dst, d), '\n')
}

func appendRetryLine(dst []byte, d time.Duration) []byte {
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, max(d.Milliseconds(), 0), 10)
	return append(dst, '\n')
}

// appendField appends one "name: value" line; value holds no line break.
func appendField(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, '\n')
}

// appendLines appends one "name: line" per line of text, splitting at CRLF,
// lone CR and lone LF exactly where a parser would. An empty line is written
// as a bare "name:" (no trailing space). There is always at least one line.
func appendLines(dst []byte, name, text string) []byte {
	for {
		end, next := lineEnd(text)
		dst = append(dst, name...)
		dst = append(dst, ':')
		if end > 0 {
			dst = append(dst, ' ')
			dst = append(dst, text[:end]...)
		}
		dst = append(dst, '\n')
		if next < 0 {
			return dst
		}
		text = text[next:]
	}
}

// lineEnd returns the length of the first line of s and the index where the
// next line starts, or next = -1 when s has no line break.
func lineEnd(s string) (end, next int) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			return i, i + 1
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				return i, i + 2
			}
			return i, i + 1
		}
	}
	return len(s), -1
}

// Encoder writes frames to an io.Writer. It reuses one buffer, so steady
// use does not allocate. It does not flush: on an HTTP response use Stream,
// which does. Like the writer it wraps, an Encoder is not safe for
// concurrent use.
type Encoder struct {
	w   io.Writer
	buf []byte
}

// NewEncoder returns an Encoder that writes to w.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w}
}

// Encode writes one event (see AppendEvent). Nothing is written when the
// event is refused.
func (e *Encoder) Encode(ev Event) error {
	b, err := AppendEvent(e.buf[:0], ev)
	if err != nil {
		return err
	}
	return e.write(b)
}

// Comment writes a comment (see AppendComment).
func (e *Encoder) Comment(text string) error {
	return e.write(AppendComment(e.buf[:0], text))
}

// Retry writes a retry field (see AppendRetry).
func (e *Encoder) Retry(d time.Duration) error {
	return e.write(AppendRetry(e.buf[:0], d))
}

func (e *Encoder) write(b []byte) error {
	e.buf = b
	_, err := e.w.Write(b)
	return err
}
