package sse

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event is one server-sent event.
//
// The same type is used in both directions. When encoding, the zero value of
// each field means "do not write this field". When decoding, Type is always
// filled in and ID carries the stream's last event ID.
type Event struct {
	// ID is written as an "id:" field when non-empty. A browser remembers the
	// latest one and sends it back in the Last-Event-ID header when it
	// reconnects, so the server can resume. Decoded events carry the stream's
	// last event ID at the moment of dispatch (like MessageEvent.lastEventId),
	// which may come from an earlier event: ids persist until replaced.
	ID string

	// Type is the "event:" field. Empty means the default type "message"
	// (decoded events always carry the resolved type).
	Type string

	// Data is the payload. It may contain CR, LF or CRLF: the encoder writes
	// one "data:" line per line and the decoder joins them with LF, so line
	// breaks survive as LF. Empty data is still sent as one empty "data:"
	// line so that the event is dispatched.
	Data string

	// Retry, when > 0, is written as a "retry:" field (whole milliseconds)
	// before the event's other fields. Encode only: decoded events leave it
	// zero; see Reader.Retry.
	Retry time.Duration
}

// ErrInvalidID is returned when an event ID contains CR, LF or NUL. A line
// break would let the value start a new field (or a whole new event), and a
// parser ignores any id containing NUL, so such ids are refused rather than
// silently altered.
var ErrInvalidID = errors.New("sse: event id contains CR, LF or NUL")

// ErrInvalidEventType is returned when an event type contains CR, LF or NUL,
// for the same reason as ErrInvalidID.
var ErrInvalidEventType = errors.New("sse: event type contains CR, LF or NUL")

// validate refuses an ID or Type that would break the framing (a line break
// starts a new field) or be dropped by a parser (an id with NUL). It does not
// check UTF-8: a parser replaces invalid bytes with U+FFFD, so an id that is
// not valid UTF-8 comes back from a browser changed.
func (ev Event) validate() error {
	if !safeValue(ev.ID) {
		return fmt.Errorf("%w: %q", ErrInvalidID, ev.ID)
	}
	if !safeValue(ev.Type) {
		return fmt.Errorf("%w: %q", ErrInvalidEventType, ev.Type)
	}
	return nil
}

// safeValue reports whether s fits on a single field line untouched.
func safeValue(s string) bool {
	return !strings.ContainsAny(s, "\r\n\x00")
}
