package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// WebSocket opcodes (RFC 6455, section 5.2).
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// MaxFrame is the largest frame payload ReadFrame accepts. An ssevsws
// server's messages are a few hundred bytes; a length beyond this is a
// broken stream, not a message to allocate for.
const MaxFrame = 1 << 20

// Frame is one WebSocket frame read from the server.
type Frame struct {
	Fin     bool
	Op      byte
	Payload []byte // valid until the buffer given to ReadFrame is reused
	N       int    // bytes on the wire: header and payload
}

// ReadFrame reads one frame from the server into *buf, which it grows as
// needed and hands back for the next call. A server never masks its frames
// (RFC 6455, section 5.1), so a masked one is an error. On any error the
// frame is the zero Frame: nothing of it is counted.
func ReadFrame(br *bufio.Reader, buf *[]byte) (Frame, error) {
	var h [8]byte
	if _, err := io.ReadFull(br, h[:2]); err != nil {
		return Frame{}, err
	}
	fin, op := h[0]&0x80 != 0, h[0]&0x0f
	if h[1]&0x80 != 0 {
		return Frame{}, errors.New("masked frame from the server")
	}
	n, wire := int(h[1]&0x7f), 2
	switch n {
	case 126:
		if _, err := io.ReadFull(br, h[:2]); err != nil {
			return Frame{}, err
		}
		n, wire = int(binary.BigEndian.Uint16(h[:2])), 4
	case 127:
		if _, err := io.ReadFull(br, h[:8]); err != nil {
			return Frame{}, err
		}
		n64 := binary.BigEndian.Uint64(h[:8])
		if n64 > MaxFrame {
			return Frame{}, fmt.Errorf("frame of %d bytes: too large", n64)
		}
		n, wire = int(n64), 10
	}
	*buf = Grow(*buf, n)
	payload := (*buf)[:n]
	if _, err := io.ReadFull(br, payload); err != nil {
		return Frame{}, err
	}
	return Frame{Fin: fin, Op: op, Payload: payload, N: wire + n}, nil
}

// AppendFrame appends one unfragmented client frame: opcode op, payload
// masked with key, as RFC 6455 requires of every frame a client sends.
func AppendFrame(b []byte, op byte, payload []byte, key [4]byte) []byte {
	n := len(payload)
	b = append(b, 0x80|op)
	switch {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range b[start:] {
		b[start+i] ^= key[i&3]
	}
	return b
}

// CloseCode reads a close frame's payload: its status code, 1005 (no
// status) when it has none, and its reason.
func CloseCode(payload []byte) (code int, reason string) {
	if len(payload) < 2 {
		return 1005, ""
	}
	return int(binary.BigEndian.Uint16(payload)), string(payload[2:])
}
